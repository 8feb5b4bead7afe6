"""The services the web app uses, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from generation.answerer import Answerer
from generation.stack import build_answerer
from ingest.jobs import JobManager
from ingest.pipeline import Ingestor
from ingest.stack import build_ingestor
from retrieval.stack import RetrievalStack, build_retrieval


@dataclass
class EnclaveServices:
    """What views reach through ``current_app.extensions["enclave"]``."""

    settings: Settings
    stack: RetrievalStack
    ingestor: Ingestor
    answerer: Answerer
    jobs: JobManager

    def warm_up(self) -> None:
        """Load the embedding model and the LLM now (the server calls this before serving)."""
        self.stack.embedder.warm_up()
        warm = getattr(self.answerer._generator, "warm_up", None)  # noqa: SLF001
        if warm is not None:
            warm()


    def close(self) -> None:
        """Stop the ingest worker and release the database."""
        self.jobs.stop()
        self.stack.close()


def build_services(settings: Settings) -> EnclaveServices:
    """Wire catalog, index, embedder, ingestor, jobs and answerer (models load lazily)."""
    stack = build_retrieval(settings)
    ingestor = build_ingestor(stack)
    return EnclaveServices(
        settings=settings,
        stack=stack,
        ingestor=ingestor,
        answerer=build_answerer(settings, stack.retriever, stack.embedder),
        jobs=JobManager(stack.sessions, ingestor),
    )
