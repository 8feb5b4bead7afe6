"""Per-document access control, enforced inside retrieval (SQLAlchemy 2.0 typed models).

The model:

- A :class:`Group` is a named set of users; who belongs to which group is the web layer's
  business (login, directory). Retrieval only sees a :class:`Principal`: a user name and the
  names of its groups.
- A :class:`CollectionGrant` lets a group ``read`` (search, ask) or ``manage`` (which implies
  read) one collection. Without a grant a group sees nothing of the collection.
- A :class:`DocumentRestriction` narrows one document to the groups it lists: a document with
  at least one restriction row is readable only by those groups, and only when they can also
  read its collection. A restriction never widens access. Removing a document's *last*
  restriction row makes it readable by everyone who can read the collection.
- An admin principal reads every ready document of every collection.

Everything fails closed: no groups, unknown groups, no grant, or no ready document all give
an empty set, never "everything". Data functions take the caller's session and only flush;
the caller owns the commit. Rows are deleted with their collection, document or group
(``ON DELETE CASCADE``; the catalog turns SQLite's foreign keys on).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    delete,
    exists,
    false,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session

from db.models import (
    GRANT_LEVELS,
    Collection,
    CollectionGrant,
    Document,
    DocumentRestriction,
    GrantLevel,
    Group,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user and the names of its groups (as the web layer resolved them)."""

    user: str
    groups: frozenset[str]
    is_admin: bool = False

    def __post_init__(self) -> None:
        # Accept any iterable of names but store an immutable set: a principal is a value.
        # A bare string would silently become a set of its characters: refuse it.
        if isinstance(self.groups, str | bytes):
            raise TypeError("Principal.groups must be a set of group names, not a string")
        if not isinstance(self.groups, frozenset):
            object.__setattr__(self, "groups", frozenset(self.groups))


# -- groups ----------------------------------------------------------------------------------
def get_group(session: Session, name: str) -> Group | None:
    """The group called ``name``, or None."""
    return session.scalar(select(Group).where(Group.name == name))


def get_or_create_group(session: Session, name: str) -> Group:
    """The group called ``name``, created (flushed, not committed) if missing."""
    if not name or not name.strip():
        raise ValueError("a group name must not be empty")
    group = get_group(session, name)
    if group is None:
        group = Group(name=name)
        session.add(group)
        session.flush()
    return group


def delete_group(session: Session, name: str) -> bool:
    """Delete a group with its grants and restriction rows (flushed). False if missing.

    Deleting a group can *widen* access to a document whose only restriction named it; use
    :func:`unrestrict_document` deliberately instead when that matters.
    """
    group = get_group(session, name)
    if group is None:
        return False
    session.execute(delete(CollectionGrant).where(CollectionGrant.group_id == group.id))
    session.execute(delete(DocumentRestriction).where(DocumentRestriction.group_id == group.id))
    session.delete(group)
    session.flush()
    return True


# -- collection grants -----------------------------------------------------------------------
def grant_collection(
    session: Session, collection_id: int, group: str, level: GrantLevel = "read"
) -> CollectionGrant:
    """Let ``group`` read (or manage) a collection; an existing grant gets the new level."""
    if level not in GRANT_LEVELS:
        raise ValueError(f"grant level must be one of {GRANT_LEVELS}, not {level!r}")
    gid = get_or_create_group(session, group).id
    grant = session.scalar(
        select(CollectionGrant).where(
            CollectionGrant.collection_id == collection_id, CollectionGrant.group_id == gid
        )
    )
    if grant is None:
        grant = CollectionGrant(collection_id=collection_id, group_id=gid, level=level)
        session.add(grant)
    else:
        grant.level = level
    session.flush()
    return grant


def revoke_collection(session: Session, collection_id: int, group: str) -> bool:
    """Remove ``group``'s grant on a collection (flushed). False if there was none."""
    gid = session.scalar(select(Group.id).where(Group.name == group))
    if gid is None:
        return False
    result = session.execute(
        delete(CollectionGrant).where(
            CollectionGrant.collection_id == collection_id, CollectionGrant.group_id == gid
        )
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def collection_grants(session: Session, collection_id: int) -> dict[str, str]:
    """``{group name: level}`` of a collection's grants."""
    rows = session.execute(
        select(Group.name, CollectionGrant.level)
        .join(CollectionGrant, CollectionGrant.group_id == Group.id)
        .where(CollectionGrant.collection_id == collection_id)
    ).all()
    return {name: level for name, level in rows}


# -- document restrictions -------------------------------------------------------------------
def restrict_document(session: Session, document_id: int, groups: Iterable[str]) -> None:
    """Add ``groups`` to a document's restriction list (flushed); it becomes restricted."""
    names = sorted(set(groups))
    if not names:
        raise ValueError("restrict_document needs at least one group")
    existing = document_restrictions(session, document_id)
    for name in names:
        if name not in existing:
            gid = get_or_create_group(session, name).id
            session.add(DocumentRestriction(document_id=document_id, group_id=gid))
    session.flush()


def unrestrict_document(
    session: Session, document_id: int, groups: Iterable[str] | None = None
) -> int:
    """Remove ``groups`` (all when None) from a document's restriction list (flushed).

    Returns the number of rows removed. Once no row is left the document is readable by
    everyone who can read its collection.
    """
    stmt = delete(DocumentRestriction).where(DocumentRestriction.document_id == document_id)
    if groups is not None:
        names = set(groups)
        if not names:
            return 0
        stmt = stmt.where(
            DocumentRestriction.group_id.in_(select(Group.id).where(Group.name.in_(names)))
        )
    result = session.execute(stmt)
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


def document_restrictions(session: Session, document_id: int) -> set[str]:
    """Names of the groups a document is restricted to (empty: not restricted)."""
    return set(
        session.scalars(
            select(Group.name)
            .join(DocumentRestriction, DocumentRestriction.group_id == Group.id)
            .where(DocumentRestriction.document_id == document_id)
        )
    )


# -- decisions -------------------------------------------------------------------------------
def _principal_group_ids(principal: Principal) -> Select[tuple[int]]:
    return select(Group.id).where(Group.name.in_(sorted(principal.groups)))


def _has_grant(
    collection_id: int | ColumnElement[int], principal: Principal, levels: Iterable[str]
) -> Exists:
    return exists().where(
        CollectionGrant.collection_id == collection_id,
        CollectionGrant.group_id.in_(_principal_group_ids(principal)),
        CollectionGrant.level.in_(sorted(levels)),
    )


def can_read_collection(session: Session, collection_id: int, principal: Principal) -> bool:
    """True when the principal may search the collection (some document may still be hidden)."""
    if principal.is_admin:
        return True
    if not principal.groups:
        return False
    return bool(session.scalar(select(_has_grant(collection_id, principal, GRANT_LEVELS))))


def can_manage_collection(session: Session, collection_id: int, principal: Principal) -> bool:
    """True when the principal may change the collection (upload, delete, grant)."""
    if principal.is_admin:
        return True
    if not principal.groups:
        return False
    return bool(session.scalar(select(_has_grant(collection_id, principal, ("manage",)))))


def readable_collection_ids(session: Session, principal: Principal) -> set[int]:
    """Ids of the collections the principal may search (for listing them)."""
    if principal.is_admin:
        return set(session.scalars(select(Collection.id)))
    if not principal.groups:
        return set()
    return set(
        session.scalars(
            select(CollectionGrant.collection_id).where(
                CollectionGrant.group_id.in_(_principal_group_ids(principal)),
                CollectionGrant.level.in_(GRANT_LEVELS),
            )
        )
    )


def allowed_documents_select(collection_id: int, principal: Principal) -> Select[tuple[int]]:
    """SELECT of the ids of the collection's ready documents the principal may read."""
    stmt = select(Document.id).where(
        Document.collection_id == collection_id, Document.status == "ready"
    )
    if principal.is_admin:
        return stmt
    if not principal.groups:
        return stmt.where(false())
    restricted = exists().where(DocumentRestriction.document_id == Document.id)
    listed = exists().where(
        DocumentRestriction.document_id == Document.id,
        DocumentRestriction.group_id.in_(_principal_group_ids(principal)),
    )
    return stmt.where(
        _has_grant(collection_id, principal, GRANT_LEVELS),
        or_(not_(restricted), listed),  # a listed group implies the document is restricted
    )


def allowed_document_ids(session: Session, collection_id: int, principal: Principal) -> set[int]:
    """Ids of the collection's ready documents the principal may read (empty: none).

    Admin: every ready document. Otherwise: the ready documents, if one of the principal's
    groups holds a read or manage grant on the collection, minus restricted documents that
    list none of the principal's groups.
    """
    if not principal.is_admin and not principal.groups:
        return set()
    return set(session.scalars(allowed_documents_select(collection_id, principal)))
