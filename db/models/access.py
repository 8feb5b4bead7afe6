"""Access control tables: groups, collection grants, document restrictions.

The rules that read them live in :mod:`retrieval.acl` (enforced inside retrieval).
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

GrantLevel = Literal["read", "manage"]
GRANT_LEVELS: tuple[str, ...] = get_args(GrantLevel)


class Group(Base):
    """A named group of users; grants and restrictions refer to groups, never to users."""

    __tablename__ = "acl_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class CollectionGrant(Base):
    """Group ``group_id`` may ``read`` (or ``manage``, which implies read) a collection."""

    __tablename__ = "acl_collection_grants"
    __table_args__ = (
        UniqueConstraint("collection_id", "group_id"),
        CheckConstraint("level IN ('read', 'manage')", name="ck_acl_grant_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int] = mapped_column(ForeignKey("acl_groups.id", ondelete="CASCADE"),
                                          index=True)
    level: Mapped[str] = mapped_column(String(16), default="read")


class DocumentRestriction(Base):
    """Document ``document_id`` is readable only by the groups listed for it (narrowing)."""

    __tablename__ = "acl_document_restrictions"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("acl_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
