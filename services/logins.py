"""Browser login sessions and API-token lookups: who the bearer of a cookie or token is.

The cookie carries only a random session id; its SHA-256 is the key of a ``login_sessions``
row, so logging out revokes it at once, and disabling a user or changing the password (which
bumps ``User.session_version``) ends every session of the user. Every request is resolved
afresh from the database. Cookies, CSRF and Flask-Login are the web app's business
(web/auth/session.py); this module owns the rows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import LoginSession, User, now
from retrieval.acl import Principal
from services.accounts import principal_for, user_for_token


@dataclass(frozen=True, slots=True)
class Account:
    """The person behind a session or token, with the groups they read through."""

    id: int
    username: str
    display_name: str
    role: str
    source: str
    principal: Principal


def _account(db: Session, user: User) -> Account:
    return Account(user.id, user.username, user.display_name, user.role, user.source,
                   principal_for(db, user))


def _hash_sid(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


class Logins:
    """Opens, resolves and closes login sessions; resolves API tokens."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions

    def open(self, user_id: int, ip: str = "", user_agent: str = "") -> tuple[str, Account]:
        """A fresh session for the user: ``(session id for the cookie, account)``."""
        sid = secrets.token_urlsafe(32)
        with self._sessions() as db:
            user = db.get(User, user_id)
            if user is None:
                raise LookupError(f"no user {user_id}")
            db.add(LoginSession(
                id=_hash_sid(sid), user_id=user.id, user_version=user.session_version,
                expires_at=now() + timedelta(hours=self._settings.auth.session_hours),
                ip=ip[:64], user_agent=user_agent[:300],
            ))
            user.last_login_at = now()
            # Housekeeping: sessions that expired over a day ago are of no use to anyone.
            db.execute(delete(LoginSession)
                       .where(LoginSession.expires_at < now() - timedelta(days=1)))
            account = _account(db, user)
            db.commit()
        return sid, account

    def close(self, sid: str) -> None:
        """Revoke a session (logout); a copied cookie stops working at once."""
        with self._sessions() as db:
            row = db.get(LoginSession, _hash_sid(sid))
            if row is not None and row.revoked_at is None:
                row.revoked_at = now()
                db.commit()

    def session_account(self, sid: str) -> Account | None:
        """The account of a live session; None when revoked, expired, disabled or outdated."""
        with self._sessions() as db:
            row = db.get(LoginSession, _hash_sid(sid))
            if row is None or row.revoked_at is not None or row.expires_at <= now():
                return None
            user = db.get(User, row.user_id)
            if user is None or user.disabled or user.session_version != row.user_version:
                return None
            return _account(db, user)

    def token_account(self, token: str) -> Account | None:
        """The account owning a valid API token (its last use is recorded)."""
        with self._sessions() as db:
            user = user_for_token(db, token)
            if user is None:
                return None
            account = _account(db, user)
            db.commit()  # last_used_at
            return account
