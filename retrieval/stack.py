"""Build retrieval's services from settings: catalog, embedder, FAISS store, retriever.

Construction is cheap (the embedding model loads on first use); each entry point builds
one :class:`RetrievalStack` and passes it on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from retrieval.catalog import init_catalog, make_engine
from retrieval.embedder import SentenceTransformersEmbedder
from retrieval.faiss_index import FaissIndexStore
from retrieval.retriever import Retriever


@dataclass
class RetrievalStack:
    """Everything retrieval needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    embedder: SentenceTransformersEmbedder
    index: FaissIndexStore
    retriever: Retriever

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def build_retrieval(settings: Settings) -> RetrievalStack:
    """Open the catalog and wire the retriever. The embedding model loads lazily."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.catalog_url)
    sessions = init_catalog(engine)
    embedder = SentenceTransformersEmbedder(settings.embedding)
    index = FaissIndexStore(settings.index_dir, dimension=lambda: embedder.dimension)
    retriever = Retriever(sessions, embedder, index, default_k=settings.retrieval.top_k)
    return RetrievalStack(settings, engine, sessions, embedder, index, retriever)

