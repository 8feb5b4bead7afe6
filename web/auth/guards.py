"""The web app's gatekeeping: login, role checks, and the actor of every service call.

Every route needs a login except a short public list; the logged-in user becomes the
:class:`~services.actor.Actor` every service call is made for.

What a user may see or change inside a collection is decided by :mod:`services.access`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, request

from services.actor import Actor
from web.auth.session import AuthUser, client_ip, current_account

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


def actor() -> Actor:
    """The logged-in user as the actor of a service call."""
    user = account()
    return Actor(user.id, user.username, user.role, user.principal, user.via, client_ip())


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
