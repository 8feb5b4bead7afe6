"""The SQL catalog: collections, documents and chunks (SQLAlchemy 2.0 typed models).

Chunk ids are the ids stored in FAISS (``IndexIDMap2``); chunk text and metadata live here,
never in a pickle. Data functions take a session; the caller owns it and the commit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base for the catalog."""


class Collection(Base):
    """A named set of documents that is searched together."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    documents: Mapped[list[Document]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )


class Document(Base):
    """One source file in a collection; at most one row per (collection, name).

    ``status`` is ``ready`` (searchable) or ``failed`` (``error`` says why, no chunks).
    ``version`` grows by one every time a changed file with the same name replaces it.
    """

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    file_type: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="ready")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    storage_name: Mapped[str | None] = mapped_column(String(80), default=None)
    num_pages: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)

    collection: Mapped[Collection] = relationship(back_populates="documents")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Chunk.ordinal",
    )


class Chunk(Base):
    """A passage of a document; its id is its FAISS id.

    ``char_start``/``char_end`` locate ``text`` in the document's extracted text, where
    extracted elements are joined by a blank line.
    """

    __tablename__ = "chunks"
    # Never reuse a deleted chunk's id: it may still sit in a FAISS file after a crash.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    heading_path: Mapped[str] = mapped_column(Text, default="")
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)

    document: Mapped[Document] = relationship(back_populates="chunks")


def make_engine(url: str) -> Engine:
    """Create the catalog engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_catalog(engine: Engine) -> sessionmaker[Session]:
    """Create missing tables and return a session factory bound to ``engine``."""
    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


def get_collection(session: Session, name: str) -> Collection | None:
    """The collection called ``name``, or None."""
    return session.scalar(select(Collection).where(Collection.name == name))


def get_or_create_collection(session: Session, name: str) -> Collection:
    """The collection called ``name``, created (flushed, not committed) if missing."""
    collection = get_collection(session, name)
    if collection is None:
        collection = Collection(name=name)
        session.add(collection)
        session.flush()
    return collection


def list_collections(session: Session) -> list[Collection]:
    """All collections by name."""
    return list(session.scalars(select(Collection).order_by(Collection.name)))


def list_documents(session: Session, collection_id: int) -> list[Document]:
    """Documents of a collection by name."""
    stmt = select(Document).where(Document.collection_id == collection_id).order_by(Document.name)
    return list(session.scalars(stmt))


def chunk_ids_of(session: Session, document_id: int) -> list[int]:
    """Ids of a document's chunks (its FAISS ids)."""
    return list(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))


# Register the access-control tables on ``Base`` so that ``init_catalog`` creates them too.
from retrieval import acl as _acl  # noqa: E402, F401
