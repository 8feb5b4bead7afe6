"""Who may see and change what: the one place that decides, for every entry point.

Built on :mod:`retrieval.acl` (grants and restrictions, enforced inside retrieval too).
Unknown objects and objects the actor may not read raise the same :class:`NotFound` with the
same message, so names and ids of other people's documents cannot be probed. A collection
the actor can read but not manage raises :class:`Forbidden` on changes (its existence is no
secret to a reader).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AnswerRecord, Chunk, Collection, Document
from retrieval.acl import (
    allowed_document_ids,
    can_manage_collection,
    can_read_collection,
    readable_collection_ids,
)
from retrieval.catalog import get_collection
from services.actor import Actor
from services.errors import Forbidden, NotFound


def can_manage(db: Session, collection_id: int, actor: Actor) -> bool:
    """Whether the actor may change a collection.

    Admins manage everything; curators the collections granted ``manage`` to a group of
    theirs; readers nothing, whatever their groups' grants say.
    """
    if actor.is_admin:
        return True
    return actor.role == "curator" and can_manage_collection(db, collection_id, actor.principal)


def readable_collections(db: Session, actor: Actor) -> list[Collection]:
    """The collections the actor may read, by name."""
    ids = readable_collection_ids(db, actor.principal)
    return list(db.scalars(select(Collection).where(Collection.id.in_(ids))
                           .order_by(Collection.name)))


def readable_collection(db: Session, actor: Actor, name: str) -> Collection:
    """The collection called ``name`` if the actor may read it."""
    coll = get_collection(db, name)
    if coll is None or not can_read_collection(db, coll.id, actor.principal):
        raise NotFound(f"no collection named {name!r}")
    return coll


def managed_collection(db: Session, actor: Actor, name: str) -> Collection:
    """The collection if the actor may change it (NotFound when unreadable, else Forbidden)."""
    coll = readable_collection(db, actor, name)
    if not can_manage(db, coll.id, actor):
        raise Forbidden(f"You can read the collection {name!r} but not change it.")
    return coll


def visible_documents(db: Session, actor: Actor, coll: Collection) -> list[Document]:
    """The collection's documents the actor may see.

    Readable ready ones, plus failed ones for its managers (they have no content to leak).
    """
    allowed = allowed_document_ids(db, coll.id, actor.principal)
    manager = can_manage(db, coll.id, actor)
    rows = db.scalars(select(Document).where(Document.collection_id == coll.id)
                      .order_by(Document.name))
    return [d for d in rows if _visible(d, allowed, manager)]


def _visible(doc: Document, allowed: set[int], manager: bool) -> bool:
    return doc.id in allowed or (manager and doc.status == "failed")


def readable_document(db: Session, actor: Actor, document_id: int) -> Document:
    """A ready document the actor may read."""
    doc = db.get(Document, document_id)
    if doc is None or doc.id not in allowed_document_ids(db, doc.collection_id, actor.principal):
        raise NotFound(f"no document {document_id}")
    return doc


def readable_document_ids(db: Session, actor: Actor, ids: Iterable[object]) -> set[int]:
    """Those of ``ids`` that are documents the actor may read now (whatever collection)."""
    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return set()
    found: set[int] = set()
    for coll_id in set(db.scalars(select(Document.collection_id)
                                  .where(Document.id.in_(wanted)))):
        found |= wanted & allowed_document_ids(db, coll_id, actor.principal)
    return found


def readable_chunk(db: Session, actor: Actor, chunk_id: int) -> tuple[Chunk, Document]:
    """A passage of a document the actor may read, with the document."""
    chunk = db.get(Chunk, chunk_id)
    doc = db.get(Document, chunk.document_id) if chunk is not None else None
    if chunk is None or doc is None or doc.id not in allowed_document_ids(
            db, doc.collection_id, actor.principal):
        raise NotFound(f"no passage {chunk_id}")
    return chunk, doc


def managed_document(db: Session, actor: Actor, collection: str, document_id: int) -> Document:
    """A document of a collection the actor manages, that the actor can see."""
    coll = managed_collection(db, actor, collection)  # a manager from here on
    doc = db.get(Document, document_id)
    if doc is None or doc.collection_id != coll.id or not _visible(
            doc, allowed_document_ids(db, coll.id, actor.principal), manager=True):
        raise NotFound(f"no document {document_id} in collection {collection!r}")
    return doc


def hidden_document_names(db: Session, actor: Actor, coll: Collection) -> frozenset[str]:
    """Names of the collection's documents the actor cannot see.

    An upload must not replace them: the uploader would overwrite what it may not read.
    """
    visible = {d.id for d in visible_documents(db, actor, coll)}
    return frozenset(db.scalars(select(Document.name).where(
        Document.collection_id == coll.id, Document.id.not_in(visible))))


def require_admin(actor: Actor) -> None:
    """Raise :class:`Forbidden` unless the actor is an administrator (or the CLI)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators can do this.")


def own_answer(db: Session, actor: Actor, record_id: int) -> AnswerRecord:
    """The answer evidence record ``record_id`` if the actor asked that question.

    Anyone else's record, admins' included, is the same :class:`NotFound` as an unknown id.
    """
    rec = db.get(AnswerRecord, record_id)
    if rec is None or actor.user_id is None or rec.user_id != actor.user_id:
        raise NotFound(f"no answer {record_id}")
    return rec
