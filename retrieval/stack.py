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
from retrieval.keyword_index import install_keyword_index
from retrieval.onnx_embedder import OnnxEmbedder
from retrieval.reranker import CrossEncoderReranker
from retrieval.retriever import Retriever


@dataclass
class RetrievalStack:
    """Everything retrieval needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    embedder: SentenceTransformersEmbedder | OnnxEmbedder
    index: FaissIndexStore
    retriever: Retriever

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def build_embedder(settings: Settings) -> SentenceTransformersEmbedder | OnnxEmbedder:
    """The embedding backend named by ``embedding.backend`` (models load on first use)."""
    backend = settings.embedding.backend
    if backend == "sentence-transformers":
        return SentenceTransformersEmbedder(settings.embedding)
    return OnnxEmbedder(settings.embedding, settings.models_dir, quantize=backend == "onnx-int8")


def build_retrieval(settings: Settings) -> RetrievalStack:
    """Open the catalog and wire the retriever. The embedding model loads lazily."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.catalog_url)
    sessions = init_catalog(engine)
    install_keyword_index(engine)
    embedder = build_embedder(settings)
    index = FaissIndexStore(settings.index_dir, dimension=lambda: embedder.dimension)
    reranker = None
    if settings.retrieval.reranker_path:
        reranker = CrossEncoderReranker(settings.retrieval.reranker_path,
                                        device=settings.embedding.device)
    retriever = Retriever(sessions, embedder, index, settings.retrieval, reranker=reranker)
    return RetrievalStack(settings, engine, sessions, embedder, index, retriever)

