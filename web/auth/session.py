"""Who is asking: browser sessions (Flask-Login), API tokens, CSRF and login throttling.

Every request is resolved afresh from the database: a revoked session, a disabled user, a
removed group membership or a revoked token take effect on the very next request.

- Browser: the session cookie (HttpOnly, SameSite=Lax, Secure unless ``auth.cookie_secure``
  is off) holds a random session id; :mod:`services.logins` rows make logout real.
- API: ``Authorization: Bearer enc_...`` on ``/api/`` and ``/v1/`` paths. A request carrying a bearer
  token is judged by the token alone (never by a cookie), which is also why it is exempt
  from CSRF checks: a cross-site page cannot attach that header.
- CSRF: Flask-WTF's token on every POST/PUT/PATCH/DELETE of a session (form field
  ``csrf_token`` or header ``X-CSRFToken``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from retrieval.acl import Principal
from services.logins import Account
from web.contract import API_PATHS
from web.errors import error_response, wants_json

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
csrf = CSRFProtect()


@dataclass(frozen=True, slots=True)
class AuthUser(UserMixin):
    """The logged-in user of this request (``via`` is ``session`` or ``token``)."""

    id: int
    username: str
    display_name: str
    role: str
    source: str
    principal: Principal
    via: str
    session_key: str | None = None

    def get_id(self) -> str:  # noqa: D102 - Flask-Login's contract
        return self.session_key or ""

    @property
    def is_admin(self) -> bool:
        """Admins manage users, groups and every collection."""
        return self.role == "admin"


def bearer_token() -> str | None:
    """The request's bearer token, if it sent one."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def client_ip() -> str:
    """The peer address (the app does not trust X-Forwarded-For unless a proxy fix is set)."""
    return request.remote_addr or ""


def current_account() -> AuthUser | None:
    """The authenticated user of this request, or None."""
    user = current_user._get_current_object()  # noqa: SLF001 - unwrap the proxy
    return cast(AuthUser, user) if getattr(user, "is_authenticated", False) else None


def _logins() -> Any:
    return current_app.extensions["enclave"].logins


def _auth_user(account: Account, via: str, key: str | None = None) -> AuthUser:
    return AuthUser(account.id, account.username, account.display_name, account.role,
                    account.source, account.principal, via, key)


def start_session(user_id: int) -> None:
    """Log the user in on this browser: a fresh session id (no fixation), a server-side row."""
    sid, account = _logins().open(user_id, client_ip(), request.user_agent.string or "")
    session.clear()  # drops any pre-login state, including the old CSRF token
    session.permanent = True
    login_user(_auth_user(account, "session", sid))


def end_session() -> None:
    """Log out: revoke this browser's session row and clear the cookie."""
    account = current_account()
    if account is not None and account.session_key:
        _logins().close(account.session_key)
    logout_user()
    session.clear()


def _load_session_user(sid: str) -> AuthUser | None:
    if bearer_token() is not None:
        return None  # a token request is judged by its token alone
    account = _logins().session_account(sid)
    return None if account is None else _auth_user(account, "session", sid)


def _load_token_user(req: Any) -> AuthUser | None:
    token = bearer_token()
    if token is None or not req.path.startswith(API_PATHS):
        return None
    account = _logins().token_account(token)
    return None if account is None else _auth_user(account, "token")


class LoginThrottle:
    """Counts failed logins per user name and per client address (the ``limits`` library).

    Only failures count; once either allowance is used up, further attempts are refused
    without checking the password until the window moves on.
    """

    def __init__(self, user_limit: str, ip_limit: str, storage_uri: str) -> None:
        self._limits = {"user": parse_many(user_limit), "ip": parse_many(ip_limit)}
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def _cells(self, username: str) -> list[tuple[Any, str, str]]:
        keys = {"user": username.strip().lower()[:200], "ip": client_ip()}
        return [(item, kind, keys[kind]) for kind, items in self._limits.items()
                for item in items]

    def allowed(self, username: str) -> bool:
        """False when this user name or this address has used up its failed attempts."""
        return all(self._limiter.test(item, "login", kind, key)
                   for item, kind, key in self._cells(username))

    def failed(self, username: str) -> None:
        """Count one failed attempt."""
        for item, kind, key in self._cells(username):
            self._limiter.hit(item, "login", kind, key)

    def retry_after(self, username: str) -> int:
        """Seconds until the next attempt is allowed (0 when it is)."""
        wait = 0.0
        for item, kind, key in self._cells(username):
            stats = self._limiter.get_window_stats(item, "login", kind, key)
            if stats.remaining <= 0:
                wait = max(wait, stats.reset_time - time.time())
        return max(int(wait) + 1, 1) if wait else 0


def init_app(app: Flask) -> None:
    """Wire Flask-Login, CSRF checks, cookie flags and the login throttle into ``app``."""
    settings = app.extensions["enclave"].settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.auth.cookie_secure,
        SESSION_COOKIE_NAME="enclave_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.auth.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.auth.cookie_secure,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked below, for session requests only
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the login session
        WTF_CSRF_SSL_STRICT=True,
    )
    manager = LoginManager()
    manager.session_protection = None  # the server-side session row is the protection
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_token_user)

    @manager.unauthorized_handler
    def unauthorized():  # type: ignore[no-untyped-def]
        if wants_json():
            message = ("Log in, or send an API token: 'Authorization: Bearer enc_...'."
                       if bearer_token() is None else "The API token is invalid, expired or revoked.")
            return error_response(401, message)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    manager.init_app(app)
    csrf.init_app(app)
    app.extensions["enclave_throttle"] = LoginThrottle(
        settings.auth.login_rate_limit_user, settings.auth.login_rate_limit_ip,
        settings.auth.rate_limit_storage)

    @app.before_request
    def _csrf_for_sessions() -> None:
        if request.method in STATE_CHANGING and bearer_token() is None:
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        return error_response(
            400, "This form is out of date or did not come from this site (CSRF check: "
            f"{exc.description}). Reload the page and try again.")

    @app.context_processor
    def _account() -> dict[str, Any]:
        return {"account": current_account()}
