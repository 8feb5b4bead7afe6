"""Catalog queries: collections, documents and their chunks (models in :mod:`db.models`).

Chunk ids are the ids stored in FAISS (``IndexIDMap2``); chunk text and metadata live in the
catalog, never in a pickle. Data functions take a session; the caller owns it and the commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Chunk, Collection, Document


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
