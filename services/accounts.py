"""Account operations: users, passwords (argon2id), group membership, API tokens.

Functions take the caller's session and only flush; the caller commits (and writes the audit
event in the same transaction).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import ROLES, ApiToken, Group, GroupMember, User, now
from retrieval.acl import Principal, get_or_create_group
from services.errors import Refused

_HASHER = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
TOKEN_PREFIX = "enc_"


class AccountError(Refused):
    """A readable reason an account operation was refused."""


def normalize_username(raw: str) -> str:
    """Case-folded, NFKC-normalized user name; refuses empty, long or control characters."""
    name = unicodedata.normalize("NFKC", raw or "").strip().lower()
    if not name:
        raise AccountError("the user name is empty")
    if len(name) > 200:
        raise AccountError("the user name is longer than 200 characters")
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in name) or " " in name:
        raise AccountError("the user name must not contain spaces or control characters")
    return name


def check_password_strength(password: str, username: str, min_length: int) -> None:
    """Refuse short passwords and passwords that contain the user name."""
    if len(password) < min_length:
        raise AccountError(f"the password must have at least {min_length} characters")
    if username and username.lower() in password.lower():
        raise AccountError("the password must not contain the user name")
    if len(set(password)) < 4:
        raise AccountError("the password is too repetitive")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _HASHER.hash(password)


def get_user(session: Session, username: str) -> User | None:
    """The user called ``username`` (normalized), or None."""
    try:
        name = normalize_username(username)
    except AccountError:
        return None
    return session.scalar(select(User).where(User.username == name))


def create_user(
    session: Session, username: str, password: str | None, role: str = "reader",
    *, display_name: str = "", min_length: int = 12, source: str = "local",
) -> User:
    """Create a user (flushed). Local users need a password that passes the strength rules."""
    name = normalize_username(username)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise AccountError(f"a user named {name!r} already exists")
    user = User(username=name, display_name=display_name or name, role=role, source=source)
    if source == "local":
        if password is None:
            raise AccountError("a local account needs a password")
        check_password_strength(password, name, min_length)
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, min_length: int = 12) -> None:
    """Set a local user's password; every existing session of the user ends."""
    if user.source != "local":
        raise AccountError("this account's password is managed by the directory (LDAP)")
    check_password_strength(password, user.username, min_length)
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.flush()


def verify_password(user: User | None, password: str) -> bool:
    """True when ``password`` matches the user's hash (constant work when the user is None)."""
    if user is None or not user.password_hash:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password or "x")
        return False
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate_local(session: Session, username: str, password: str) -> User | None:
    """The enabled local user with this name and password, or None (rehashes old hashes)."""
    user = get_user(session, username)
    if user is not None and user.source != "local":
        return None
    if not password or not verify_password(user, password):
        return None
    assert user is not None
    if user.disabled:
        return None
    if user.password_hash and _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.flush()
    return user


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    """Disable (or enable) an account; disabling ends its sessions and its tokens stop working."""
    user.disabled = disabled
    user.session_version += 1
    session.flush()


def set_role(session: Session, user: User, role: str) -> None:
    """Change a user's role; existing sessions pick the new role up at their next request."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user.role = role
    session.flush()


# -- groups ----------------------------------------------------------------------------------
def user_groups(session: Session, user_id: int) -> set[str]:
    """Names of the user's groups (any origin)."""
    return set(session.scalars(
        select(Group.name).join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
    ))


def set_groups(session: Session, user: User, groups: Iterable[str], origin: str = "local") -> None:
    """Make the user's ``origin`` memberships exactly ``groups`` (others are left alone)."""
    wanted = {g.strip() for g in groups if g and g.strip()}
    session.execute(delete(GroupMember).where(GroupMember.user_id == user.id,
                                              GroupMember.origin == origin))
    session.flush()
    have = user_groups(session, user.id)
    for name in sorted(wanted - have):
        gid = get_or_create_group(session, name).id
        session.add(GroupMember(user_id=user.id, group_id=gid, origin=origin))
    session.flush()


def add_to_group(session: Session, user: User, group: str) -> None:
    """Add a local membership (no-op when the user is already in the group)."""
    if group in user_groups(session, user.id):
        return
    gid = get_or_create_group(session, group).id
    session.add(GroupMember(user_id=user.id, group_id=gid, origin="local"))
    session.flush()


def remove_from_group(session: Session, user: User, group: str) -> bool:
    """Remove the user from ``group`` (any origin). False if it was not a member."""
    gid = session.scalar(select(Group.id).where(Group.name == group))
    if gid is None:
        return False
    result = session.execute(delete(GroupMember).where(GroupMember.user_id == user.id,
                                                       GroupMember.group_id == gid))
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def principal_for(session: Session, user: User) -> Principal:
    """The retrieval principal of an enabled user (a disabled user reads nothing)."""
    if user.disabled:
        return Principal(user.username, frozenset())
    return Principal(user.username, frozenset(user_groups(session, user.id)),
                     is_admin=user.role == "admin")


# -- API tokens ------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: ``secret`` is shown once and never stored."""

    id: int
    name: str
    secret: str
    prefix: str


def create_token(session: Session, user: User, name: str = "", days: int = 90) -> NewToken:
    """Create an API token for ``user`` (flushed); only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=_token_hash(secret),
                   prefix=secret[:12], expires_at=now() + timedelta(days=days))
    session.add(row)
    session.flush()
    return NewToken(row.id, row.name, secret, row.prefix)


def user_for_token(session: Session, secret: str) -> User | None:
    """The enabled user owning this unrevoked, unexpired token (records its last use)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret)))
    if row is None or row.revoked_at is not None or row.expires_at <= now():
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.last_used_at is None or (now() - row.last_used_at) > timedelta(minutes=1):
        row.last_used_at = now()
        session.flush()
    return user


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (revoked ones included)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.id.desc())))


def revoke_token(session: Session, token_id: int, user_id: int | None = None) -> ApiToken | None:
    """Revoke a token (of ``user_id`` when given). None when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        return None
    if row.revoked_at is None:
        row.revoked_at = now()
        session.flush()
    return row
