"""Every service, built once per process from the settings, with an explicit start-up step.

Building is cheap (models load on first use or in :meth:`Services.warm_up`); start-up work —
migrating the database (:meth:`Services.open`), re-aligning the vector index with the
catalog after a crash, dropping orphan uploads, putting interrupted jobs back in the queue
and starting the ingest worker — happens in :meth:`Services.start`, which the server and
the tests call, never as a side effect of creating the web app.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from config.settings import Settings
from generation.answerer import Answerer
from generation.stack import build_answerer
from generation.types import Generator
from ingest.jobs import JobManager
from ingest.pipeline import Ingestor
from ingest.stack import build_ingestor
from ingest.sync import Syncer
from retrieval import evidence
from retrieval.stack import RetrievalStack, build_retrieval
from services.admin import Admin
from services.ask import Asking, DraftHistory
from services.feedback import Feedback
from services.identity import Identity
from services.inventory import Inventory
from services.jobs import Jobs
from services.library import Library
from services.logins import Logins
from services.sources import Sources
from services.syncs import Syncs


@dataclass
class Services:
    """The stages (retrieval stack, ingestor, job runner, answerer) and the use cases over them."""

    settings: Settings
    stack: RetrievalStack
    ingestor: Ingestor
    answerer: Answerer
    job_runner: JobManager
    library: Library
    asking: Asking
    jobs: Jobs
    admin: Admin
    feedback: Feedback
    identity: Identity
    inventory: Inventory
    logins: Logins
    sources: Sources
    syncs: Syncs
    opened: bool = False
    started: bool = False

    def open(self) -> None:
        """Migrate the database, or refuse an out-of-date one (``database_auto_upgrade``)."""
        if not self.opened:
            self.stack.prepare_database()
            self.opened = True

    def start(self) -> None:
        """Open the database, recover from a crash and start the ingest worker (idempotent)."""
        if self.started:
            return
        self.open()
        self.ingestor.check(repair=True)
        self.job_runner.check_orphans(repair=True)
        self.job_runner.start()
        self.started = True

    def ping(self) -> None:
        """Raise when the database does not answer (the health check)."""
        with self.stack.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def warm_up(self) -> None:
        """Load the embedding model, the abstention lexicon and the LLM now.

        The server calls this before serving. One question is embedded too: an embedder may
        run questions on a model instance of its own (the ONNX Runtime one does), which
        would otherwise load during the first user's search.
        """
        self.stack.embedder.warm_up()
        self.stack.embedder.embed_query("warm up")
        evidence.warm_up()
        self.answerer.warm_up()

    def close(self) -> None:
        """Stop the ingest worker and release the database."""
        self.job_runner.stop()
        self.stack.close()


def build_services(settings: Settings, generator: Generator | None = None) -> Services:
    """Wire catalog, index, embedder, ingestor, jobs, answerer and the use cases.

    ``generator`` replaces the configured answering model (tests use scripted ones).
    """
    stack = build_retrieval(settings, prepare_database=False)
    ingestor = build_ingestor(stack)
    dispatch = None
    if settings.jobs.runner == "celery":  # jobs go to Celery workers (ingest/celery_app.py)
        from ingest.queue import CeleryDispatcher

        dispatch = CeleryDispatcher(settings)
    job_runner = JobManager(stack.sessions, ingestor, dispatch=dispatch)
    syncer = Syncer(stack.sessions, ingestor, job_runner, settings.ingest.sync_interval_s)
    if dispatch is None:  # scheduled syncs run in the idle job thread (celery: use cron)
        job_runner.on_idle = syncer.tick
    answerer = (build_answerer(settings, stack.retriever, stack.embedder) if generator is None
                else Answerer(settings, stack.retriever, generator, stack.embedder))
    answerer.remember_drafts(DraftHistory(stack.sessions, answerer,
                                          settings.generation.draft_history))
    return Services(
        settings=settings, stack=stack, ingestor=ingestor, answerer=answerer,
        job_runner=job_runner,
        library=Library(settings, stack.sessions, ingestor, job_runner),
        asking=Asking(settings, stack.sessions, stack.retriever, answerer),
        jobs=Jobs(stack.sessions, job_runner),
        admin=Admin(settings, stack.sessions, answerer.model_info),
        feedback=Feedback(stack.sessions),
        identity=Identity(settings, stack.sessions),
        inventory=Inventory(settings, stack.sessions, stack.index),
        logins=Logins(settings, stack.sessions),
        sources=Sources(settings, stack.sessions),
        syncs=Syncs(settings, stack.sessions, syncer),
    )
