"""Build retrieval's services from settings: catalog, embedder, FAISS store, retriever.

Construction is cheap (the embedding model loads on first use); each entry point builds
one :class:`RetrievalStack` and passes it on.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.engine import make_engine, session_factory
from db.migrate import SchemaOutOfDate, prepare
from retrieval.backends.cross_encoder import CrossEncoderReranker
from retrieval.backends.faiss import FaissIndexStore
from retrieval.backends.onnx import OnnxEmbedder
from retrieval.backends.openvino import (
    OpenVinoEmbedder,
    OpenVinoInt8Embedder,
    openvino_available,
    openvino_bf16_available,
    vnni_available,
)
from retrieval.backends.postgres_fts import PostgresKeywordIndex
from retrieval.backends.sentence_transformers import SentenceTransformersEmbedder
from retrieval.backends.sqlite_fts import SqliteKeywordIndex
from retrieval.retriever import Retriever
from retrieval.types import KeywordIndex, VectorIndex


@dataclass
class RetrievalStack:
    """Everything retrieval needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    embedder: SentenceTransformersEmbedder | OnnxEmbedder
    index: VectorIndex
    keyword: KeywordIndex | None
    retriever: Retriever

    def prepare_database(self) -> None:
        """Migrate the database (``database_auto_upgrade``) or refuse an out-of-date one."""
        prepare(self.engine, auto_upgrade=self.settings.database_auto_upgrade)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def build_embedder(settings: Settings) -> SentenceTransformersEmbedder | OnnxEmbedder:
    """The embedding backend named by ``embedding.backend`` (models load on first use)."""
    backend = resolve_embedding_backend(settings.embedding.backend)
    if backend == "sentence-transformers":
        return SentenceTransformersEmbedder(settings.embedding)
    if backend == "openvino":
        return OpenVinoEmbedder(settings.embedding, settings.models_dir)
    if backend == "openvino-int8":
        return OpenVinoInt8Embedder(settings.embedding, settings.models_dir)
    return OnnxEmbedder(settings.embedding, settings.models_dir, quantize=backend == "onnx-int8")


def resolve_embedding_backend(backend: str) -> str:
    """The backend ``embedding.backend`` names.

    ``auto``: openvino-int8 on CPUs with int8 dot products
    (:func:`~retrieval.backends.openvino.vnni_available`), else openvino on CPUs with
    bfloat16 (:func:`~retrieval.backends.openvino.openvino_bf16_available`), else onnx-int8.
    """
    if backend != "auto":
        return backend
    if openvino_available() and vnni_available():
        return "openvino-int8"
    return "openvino" if openvino_bf16_available() else "onnx-int8"


def build_vector_index(settings: Settings, embedder: SentenceTransformersEmbedder | OnnxEmbedder
                       ) -> VectorIndex:
    """The vector store named by ``retrieval.vector_backend`` (``faiss``: files in index_dir)."""
    backend = settings.retrieval.vector_backend
    if backend == "faiss":
        return FaissIndexStore(settings.index_dir, dimension=lambda: embedder.dimension,
                               nprobe=settings.retrieval.index.nprobe,
                               mmap=settings.retrieval.index.mmap,
                               gpu=settings.retrieval.index.gpu)
    raise ValueError(f"unknown retrieval.vector_backend {backend!r}")


def build_keyword_index(settings: Settings, engine: Engine) -> KeywordIndex | None:
    """The keyword index named by ``retrieval.keyword_backend``.

    ``auto``: SQLite FTS5 on a SQLite catalog, PostgreSQL full-text search on PostgreSQL,
    none on other databases (the retriever then runs dense-only and says so in the log).
    ``none``: never.
    """
    backend = settings.retrieval.keyword_backend
    dialect = engine.dialect.name
    if backend == "auto":
        backend = {"sqlite": "sqlite-fts", "postgresql": "postgres-fts"}.get(dialect, "none")
    if backend == "sqlite-fts":
        if dialect != "sqlite":
            raise ValueError("retrieval.keyword_backend sqlite-fts needs a SQLite catalog")
        return SqliteKeywordIndex()
    if backend == "postgres-fts":
        if dialect != "postgresql":
            raise ValueError("retrieval.keyword_backend postgres-fts needs a PostgreSQL catalog")
        return PostgresKeywordIndex()
    if backend == "none":
        return None
    raise ValueError(f"unknown retrieval.keyword_backend {backend!r}")


def build_retrieval(settings: Settings, *, prepare_database: bool = True) -> RetrievalStack:
    """Open the catalog and wire the retriever. The embedding model loads lazily.

    ``prepare_database``: migrate (or check) the schema now, as the CLIs want; the web app
    leaves it to :meth:`services.container.Services.start`.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.catalog_url)
    sessions = session_factory(engine)
    embedder = build_embedder(settings)
    index = build_vector_index(settings, embedder)
    keyword = build_keyword_index(settings, engine)
    reranker = None
    if settings.retrieval.reranker_path:
        reranker = CrossEncoderReranker(settings.retrieval.reranker_path,
                                        device=settings.embedding.device)
    retriever = Retriever(sessions, embedder, index, settings.retrieval, keyword=keyword,
                          reranker=reranker)
    stack = RetrievalStack(settings, engine, sessions, embedder, index, keyword, retriever)
    if prepare_database:
        stack.prepare_database()
    return stack



def build_retrieval_for_cli(settings: Settings) -> RetrievalStack | None:
    """:func:`build_retrieval` for a command line: an out-of-date database is a message."""
    try:
        return build_retrieval(settings)
    except SchemaOutOfDate as exc:
        print(f"Cannot open the database: {exc}", file=sys.stderr)
        return None
