"""Administration: users, groups, collection grants, the audit log, answer evidence, the model.

The admin page, the admin API and ``python -m web user|grant`` all come here. Admins only;
every change is written to the audit log in the same transaction as the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import GRANT_LEVELS, Collection, Group, User
from generation.types import ModelInfo
from retrieval.acl import collection_grants, grant_collection, revoke_collection
from retrieval.catalog import get_collection
from services import access, audit
from services.accounts import (
    AccountError,
    create_user,
    get_user,
    set_disabled,
    set_groups,
    set_password,
    set_role,
    user_groups,
)
from services.actor import Actor
from services.errors import NotFound


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user's public fields."""

    username: str
    display_name: str
    role: str
    source: str
    disabled: bool
    groups: list[str]
    last_login_at: str | None


@dataclass(frozen=True, slots=True)
class NewUser:
    """A new local account."""

    username: str
    password: str
    role: str = "reader"
    groups: Sequence[str] = ()
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class UserChanges:
    """What to change of a user (None: leave as it is)."""

    role: str | None = None
    disabled: bool | None = None
    groups: Sequence[str] | None = None
    password: str | None = None


@dataclass(slots=True)
class Overview:
    """What the admin page shows."""

    users: list[UserInfo]
    collections: list[tuple[str, dict[str, str]]]
    groups: list[str]
    events: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    model: ModelInfo | None = None  # the answering model (preset, file, hash, licence)
    levels: tuple[str, ...] = field(default=GRANT_LEVELS)


@dataclass(frozen=True, slots=True)
class Export:
    """A downloadable export."""

    body: str
    mimetype: str
    filename: str
    rows: int


def user_info(db: Session, user: User) -> UserInfo:
    """A user's public fields."""
    return UserInfo(user.username, user.display_name, user.role, user.source, user.disabled,
                    sorted(user_groups(db, user.id)),
                    user.last_login_at.isoformat() + "Z" if user.last_login_at else None)


def _names(groups: Sequence[str]) -> list[str]:
    return sorted({g.strip() for g in groups if g.strip()})


class Admin:
    """Users, grants and records; every method is for admins (the CLI acts as one).

    ``model`` describes the answering model (``Answerer.model_info``); called with
    ``hash_now=False`` it never reads the model file to hash it.
    """

    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 model: Callable[..., ModelInfo] | None = None) -> None:
        self._settings = settings
        self._sessions = sessions
        self._model = model

    def model(self, actor: Actor) -> ModelInfo | None:
        """The answering model: preset, file, size, SHA-256 (once known), licence, backend."""
        self._require(actor)
        return self._model(hash_now=False) if self._model is not None else None

    @staticmethod
    def _require(actor: Actor) -> None:
        access.require_admin(actor)

    def users(self, actor: Actor) -> list[UserInfo]:
        """Every user with role, source, groups and status."""
        self._require(actor)
        with self._sessions() as db:
            return [user_info(db, u) for u in db.scalars(select(User).order_by(User.username))]

    def create_user(self, actor: Actor, new: NewUser) -> UserInfo:
        """Create a local user (password rules apply)."""
        self._require(actor)
        with self._sessions() as db:
            user = create_user(db, new.username, new.password, new.role or "reader",
                               display_name=new.display_name,
                               min_length=self._settings.auth.min_password_length)
            groups = _names(new.groups)
            if groups:
                set_groups(db, user, groups)
            audit.record(db, actor.username, "user.create", user.username, ip=actor.ip,
                         detail={"role": user.role, "groups": groups})
            info = user_info(db, user)
            db.commit()
            return info

    def update_user(self, actor: Actor, username: str, changes: UserChanges) -> UserInfo:
        """Change a user's role, disabled flag, local groups or password (all or nothing)."""
        self._require(actor)
        with self._sessions() as db:
            user = get_user(db, username)
            if user is None:
                raise NotFound(f"no user {username!r}")
            self._apply(db, actor, user, changes)
            info = user_info(db, user)
            db.commit()
            return info

    def _apply(self, db: Session, actor: Actor, user: User, changes: UserChanges) -> None:
        def record(action: str, **detail: Any) -> None:
            audit.record(db, actor.username, action, user.username, ip=actor.ip, detail=detail)

        if changes.role is not None and changes.role != user.role:
            if user.id == actor.user_id:
                raise AccountError("you cannot change your own role (ask another admin)")
            before = user.role
            set_role(db, user, changes.role)
            record("user.role", before=before, after=user.role)
        if changes.disabled is not None:
            if changes.disabled and user.id == actor.user_id:
                raise AccountError("you cannot disable your own account")
            if changes.disabled != user.disabled:
                set_disabled(db, user, changes.disabled)
                record("user.disable" if changes.disabled else "user.enable")
        if changes.groups is not None:
            before = sorted(user_groups(db, user.id))
            set_groups(db, user, _names(changes.groups), origin="local")
            after = sorted(user_groups(db, user.id))
            if before != after:
                record("user.groups", before=before, after=after)
        if changes.password:
            set_password(db, user, changes.password, self._settings.auth.min_password_length)
            record("user.password_reset")

    def grants(self, actor: Actor, collection: str) -> dict[str, str]:
        """``{group: level}`` of a collection."""
        self._require(actor)
        with self._sessions() as db:
            coll = get_collection(db, collection)
            if coll is None:
                raise NotFound(f"no collection named {collection!r}")
            return collection_grants(db, coll.id)

    def set_grant(self, actor: Actor, collection: str, group: str,
                  level: Literal["read", "manage"] | None) -> None:
        """Grant ``group`` read/manage on a collection; ``None`` revokes (next request on)."""
        self._require(actor)
        group = group.strip()
        if not group:
            raise AccountError("give a group name")
        with self._sessions() as db:
            coll = get_collection(db, collection)
            if coll is None:
                raise NotFound(f"no collection named {collection!r}")
            before = collection_grants(db, coll.id).get(group)
            if level is None:
                if not revoke_collection(db, coll.id, group):
                    raise NotFound(f"the group {group!r} has no grant on {collection!r}")
            else:
                if level not in GRANT_LEVELS:
                    raise AccountError(f"level must be one of {', '.join(GRANT_LEVELS)}")
                grant_collection(db, coll.id, group, level)
            audit.record(db, actor.username, "grant.change", f"{collection}:{group}",
                         ip=actor.ip, detail={"before": before, "after": level})
            db.commit()

    def overview(self, actor: Actor) -> Overview:
        """Users, collections with grants, groups, the latest audit events and answers."""
        self._require(actor)
        with self._sessions() as db:
            return Overview(
                users=[user_info(db, u) for u in db.scalars(select(User).order_by(User.username))],
                collections=[(c.name, collection_grants(db, c.id)) for c in
                             db.scalars(select(Collection).order_by(Collection.name))],
                groups=list(db.scalars(select(Group.name).order_by(Group.name))),
                events=audit.audit_rows(db, limit=50),
                evidence=audit.evidence_rows(db, limit=20),
                model=self.model(actor),
            )

    def export(self, actor: Actor, kind: Literal["audit", "evidence"], fmt: Literal["json", "csv"],
               *, action: str | None = None, actor_name: str | None = None,
               user: str | None = None, collection: str | None = None) -> Export:
        """The audit log or the answer evidence, newest first (the export itself is audited)."""
        self._require(actor)
        with self._sessions() as db:
            if kind == "audit":
                rows = audit.audit_rows(db, action=action, actor=actor_name, limit=None)
                fields = audit.AUDIT_FIELDS
            else:
                rows = audit.evidence_rows(db, username=user, collection=collection, limit=None)
                fields = audit.EVIDENCE_FIELDS
            audit.record(db, actor.username, "export", kind, ip=actor.ip,
                         detail={"format": fmt, "rows": len(rows)})
            db.commit()
        if fmt == "csv":
            body, mimetype = audit.to_csv(rows, fields), "text/csv"
        else:
            body, mimetype = json.dumps(rows, indent=1), "application/json"
        return Export(body, mimetype, f"enclave-{kind}.{fmt}", len(rows))
