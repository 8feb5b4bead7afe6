"""Authorization decisions for views, built on :mod:`retrieval.acl`.

Login for everything but a short public list; roles; per-collection and per-document checks.

Unknown objects and objects the user may not read get the same 404 and the same message, so
ids and names of other people's documents cannot be probed. A collection the user can read
but not manage answers 403 on changes (its existence is no secret to a reader).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retrieval.acl import allowed_document_ids, can_manage_collection, can_read_collection
from retrieval.catalog import Chunk, Collection, Document, get_collection
from web.auth.session import AuthUser, current_account

# Endpoints anyone may call; every other endpoint needs a logged-in user (fail closed).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "health.healthz", "static"})

F = TypeVar("F", bound=Callable[..., Any])


def require_login() -> Any:
    """``before_request`` hook: anonymous requests to non-public endpoints are refused."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None  # None: a 404 for an unknown URL, answered by the router
    if current_account() is None:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def account() -> AuthUser:
    """The logged-in user (views run only after :func:`require_login`)."""
    user = current_account()
    if user is None:  # pragma: no cover - require_login runs first
        abort(401)
    return user


def admin_required(view: F) -> F:
    """Only admins may call ``view`` (403 for everyone else)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not account().is_admin:
            abort(403, "Only administrators can do this.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def session_only(view: F) -> F:
    """``view`` is for browser sessions only (API tokens cannot change passwords or tokens)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if account().via != "session":
            abort(403, "This needs a browser login; API tokens cannot do it.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def can_manage(db: Session, collection_id: int, user: AuthUser) -> bool:
    """Whether the user may change a collection.

    Admins manage everything; curators the collections granted ``manage`` to a group of
    theirs; readers nothing, whatever their groups' grants say.
    """
    if user.is_admin:
        return True
    return user.role == "curator" and can_manage_collection(db, collection_id, user.principal)


def readable_collection(db: Session, name: str) -> Collection:
    """The collection called ``name`` if the user may read it; 404 otherwise."""
    coll = get_collection(db, name)
    if coll is None or not can_read_collection(db, coll.id, account().principal):
        abort(404, f"no collection named {name!r}")
    return coll


def managed_collection(db: Session, name: str) -> Collection:
    """The collection if the user may change it; 404 when unreadable, 403 when read-only."""
    coll = readable_collection(db, name)
    if not can_manage(db, coll.id, account()):
        abort(403, f"You can read the collection {name!r} but not change it.")
    return coll


def visible_documents(db: Session, coll: Collection) -> list[Document]:
    """The collection's documents the user may see.

    Readable ready ones, plus failed ones for its managers (they have no content to leak).
    """
    user = account()
    allowed = allowed_document_ids(db, coll.id, user.principal)
    manager = can_manage(db, coll.id, user)
    rows = db.scalars(select(Document).where(Document.collection_id == coll.id)
                      .order_by(Document.name))
    return [d for d in rows if _visible(d, allowed, manager)]


def _visible(doc: Document, allowed: set[int], manager: bool) -> bool:
    return doc.id in allowed or (manager and doc.status == "failed")


def readable_document(db: Session, document_id: int) -> Document:
    """A ready document the user may read; 404 otherwise (unknown and forbidden alike)."""
    doc = db.get(Document, document_id)
    if doc is None or doc.id not in allowed_document_ids(db, doc.collection_id,
                                                          account().principal):
        abort(404, f"no document {document_id}")
    return doc


def readable_chunk(db: Session, chunk_id: int) -> tuple[Chunk, Document]:
    """A passage of a document the user may read, with the document.

    404 otherwise, with the same answer for unknown and forbidden ids.
    """
    chunk = db.get(Chunk, chunk_id)
    doc = db.get(Document, chunk.document_id) if chunk is not None else None
    if chunk is None or doc is None or doc.id not in allowed_document_ids(
            db, doc.collection_id, account().principal):
        abort(404, f"no passage {chunk_id}")
    return chunk, doc


def managed_document(db: Session, collection: str, document_id: int) -> Document:
    """A document of a collection the user manages, that the user can see (404 otherwise)."""
    coll = managed_collection(db, collection)  # so the user is a manager from here on
    doc = db.get(Document, document_id)
    if doc is None or doc.collection_id != coll.id or not _visible(
            doc, allowed_document_ids(db, coll.id, account().principal), manager=True):
        abort(404, f"no document {document_id} in collection {collection!r}")
    return doc
