"""Logging in and looking after one's own account: passwords, API tokens.

Local accounts (argon2id) and, when ``auth.ldap`` is enabled, the directory: a directory
user is created on first login and its groups and role are re-read at every login. A local
account is never taken over by a directory user of the same name. Browser sessions (cookies,
CSRF) are the web app's business (web/auth/session.py); this module decides who someone is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import User
from services import audit
from services.accounts import (
    AccountError,
    NewToken,
    authenticate_local,
    create_token,
    create_user,
    get_user,
    list_tokens,
    revoke_token,
    set_groups,
    set_password,
    user_groups,
    verify_password,
)
from services.actor import Actor
from services.errors import NotFound, Refused
from services.ldap import LdapUnavailable, ldap_authenticate

log = logging.getLogger(__name__)
UNREACHABLE = "The directory server cannot be reached; try again later."


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``user_id`` when the login succeeded; else a message for the login page.

    A None message means the usual 'wrong user name or password'.
    """

    user_id: int | None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One of the actor's API tokens (never its secret)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class Identity:
    """Who someone is, and what they may change about their own account."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions

    def login(self, username: str, password: str, ip: str = "") -> LoginResult:
        """Check a user name and password (local, then the directory); audited either way."""
        with self._sessions() as db:
            user = authenticate_local(db, username, password) if password else None
            message = None
            if user is None and password and self._settings.auth.ldap.enabled:
                local = get_user(db, username)
                if local is None or local.source == "ldap":
                    user, message = self._ldap_user(db, username, password, ip)
            if user is None:
                audit.record(db, username or "-", "login", username, outcome="failed", ip=ip,
                             detail={"reason": message or "wrong user name or password"})
                db.commit()
                return LoginResult(None, message)
            audit.record(db, user.username, "login", user.username, ip=ip,
                         detail={"source": user.source})
            db.commit()
            return LoginResult(user.id)

    def throttled(self, username: str, ip: str = "") -> None:
        """Record a login refused by the throttle."""
        with self._sessions() as db:
            audit.record(db, username or "-", "login", username, outcome="denied", ip=ip,
                         detail={"reason": "rate limited"})
            db.commit()

    def _ldap_user(self, db: Session, username: str, password: str,
                   ip: str) -> tuple[User | None, str | None]:
        """Log in through the directory.

        ``(user, None)``; ``(None, None)`` when the directory says no; ``(None, message)``
        when it cannot be asked.
        """
        try:
            ident = ldap_authenticate(self._settings.auth.ldap, username, password)
        except LdapUnavailable as exc:
            log.warning("LDAP login unavailable: %s", exc)
            return None, UNREACHABLE
        if ident is None:
            return None, None
        user = get_user(db, ident.username)
        if user is None:
            user = create_user(db, ident.username, None, ident.role,
                               display_name=ident.display_name, source="ldap")
            audit.record(db, ident.username, "user.create", ident.username, ip=ip,
                         detail={"source": "ldap", "role": ident.role})
        elif user.source != "ldap":
            return None, None  # a local account of the same name is never taken over
        if user.disabled:
            return None, None
        before_groups, before_role = user_groups(db, user.id), user.role
        set_groups(db, user, ident.groups, origin="ldap")
        user.role, user.ldap_dn, user.display_name = ident.role, ident.dn, ident.display_name
        after = user_groups(db, user.id)
        if after != before_groups or before_role != ident.role:
            audit.record(db, user.username, "ldap.sync", user.username, ip=ip, detail={
                "groups_added": sorted(after - before_groups),
                "groups_removed": sorted(before_groups - after),
                "role": [before_role, ident.role]})
        db.flush()
        return user, None

    def logout(self, actor: Actor) -> None:
        """Record the end of a browser session."""
        with self._sessions() as db:
            audit.record(db, actor.username, "logout", actor.username, ip=actor.ip)
            db.commit()

    def change_password(self, actor: Actor, current: str, new: str, confirm: str) -> None:
        """Change one's own password (needs the current one); every other session ends."""
        with self._sessions() as db:
            user = self._user(db, actor)
            if not verify_password(user, current):
                audit.record(db, actor.username, "password.change", actor.username,
                             outcome="failed", ip=actor.ip)
                db.commit()
                raise Refused("The current password is wrong.")
            if new != confirm:
                raise Refused("The new passwords do not match.")
            set_password(db, user, new, self._settings.auth.min_password_length)
            audit.record(db, actor.username, "password.change", actor.username, ip=actor.ip)
            db.commit()

    def groups(self, actor: Actor) -> list[str]:
        """The actor's groups."""
        with self._sessions() as db:
            return sorted(user_groups(db, self._user(db, actor).id))

    def tokens(self, actor: Actor) -> list[TokenInfo]:
        """The actor's API tokens, newest first (revoked ones included)."""
        with self._sessions() as db:
            return [TokenInfo(t.id, t.name, t.prefix, t.created_at, t.expires_at,
                              t.last_used_at, t.revoked_at)
                    for t in list_tokens(db, self._user(db, actor).id)]

    def create_token(self, actor: Actor, name: str, username: str | None = None,
                     days: int | None = None) -> NewToken:
        """A new API token for the actor (or, for the CLI, for ``username``); shown once."""
        with self._sessions() as db:
            user = self._user(db, actor) if username is None else get_user(db, username)
            if user is None or user.disabled:
                raise NotFound(f"no active user {username!r}")
            token = create_token(db, user, name or "token", days or self._settings.auth.token_days)
            audit.record(db, actor.username, "token.create", f"token {token.id}", ip=actor.ip,
                         detail={"name": token.name, "prefix": token.prefix,
                                 "user": user.username})
            db.commit()
            return token

    def revoke_token(self, actor: Actor, token_id: int, any_owner: bool = False) -> None:
        """Revoke one of the actor's tokens (any user's for the CLI, ``any_owner``)."""
        with self._sessions() as db:
            owner = None if any_owner else self._user(db, actor).id
            row = revoke_token(db, token_id, owner)
            if row is None:
                raise NotFound(f"no token {token_id}")
            audit.record(db, actor.username, "token.revoke", f"token {token_id}", ip=actor.ip,
                         detail={"owner_id": row.user_id})
            db.commit()

    @staticmethod
    def _user(db: Session, actor: Actor) -> User:
        user = db.get(User, actor.user_id) if actor.user_id is not None else None
        if user is None:
            raise AccountError("this needs a user account")
        return user
