"""The catalog: collections, documents and chunks.

Chunk ids are the ids stored in the vector index (FAISS ``IndexIDMap2``); chunk text and
metadata live here, never in a pickle. ``chunks`` is mirrored into the keyword index
(SQLite FTS5 ``chunks_fts``, kept in step by triggers: see the migrations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, now


class Collection(Base):
    """A named set of documents that is searched together."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Grows with every change to who may read which of its chunks (database triggers,
    # migration 0004); retrieval's access cache is keyed on it.
    access_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
    # The ready version's parse report (ingest.types.ParseReport.to_dict: hidden characters
    # dropped, by reason; pages; OCR pages; tables); NULL for failed documents and for
    # versions ingested before migration 0011.
    parse_report: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

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
    __table_args__ = (
        # A document's chunks in order: passages read a hit's neighbours by ordinal range
        # (retrieval.passages); on a long document the document id alone left thousands of
        # rows to scan per hit. Also serves every lookup by document id.
        Index("ix_chunks_document_ordinal", "document_id", "ordinal"),
        # Never reuse a deleted chunk's id: it may still sit in a FAISS file after a crash.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    heading_path: Mapped[str] = mapped_column(Text, default="")
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    # Mean OCR word confidence (0-100) of the chunk's text; NULL when it was not OCRed.
    ocr_confidence: Mapped[float | None] = mapped_column(Float, default=None)

    document: Mapped[Document] = relationship(back_populates="chunks")
