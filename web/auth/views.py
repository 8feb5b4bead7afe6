"""Login, logout, and the account page (password change, API tokens)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from web.auth import audit
from web.auth.accounts import (
    AccountError,
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
from web.auth.guards import account, session_only
from web.auth.models import User
from web.auth.session import client_ip, end_session, start_session
from web.schemas import LoginForm, PasswordForm, TokenForm
from web.validation import parse_form

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


def _services() -> Any:
    return current_app.extensions["enclave"]


def _safe_next(target: str | None) -> str:
    """A same-site path to go to after login (never another host: no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.ask_page")


def _ldap_user(db: Session, username: str, password: str) -> tuple[User | None, str | None]:
    """Log in through the directory.

    ``(user, None)``; ``(None, None)`` when the directory says no; ``(None, message)`` when
    it cannot be asked. Groups and role are re-read from the directory at every login.
    """
    from web.auth.ldap import LdapUnavailable, ldap_authenticate

    cfg = _services().settings.auth.ldap
    try:
        ident = ldap_authenticate(cfg, username, password)
    except LdapUnavailable as exc:
        log.warning("LDAP login unavailable: %s", exc)
        return None, "The directory server cannot be reached; try again later."
    if ident is None:
        return None, None
    user = get_user(db, ident.username)
    if user is None:
        user = create_user(db, ident.username, None, ident.role,
                           display_name=ident.display_name, source="ldap")
        audit.record(db, ident.username, "user.create", ident.username,
                     detail={"source": "ldap", "role": ident.role}, ip=client_ip())
    elif user.source != "ldap":
        return None, None  # a local account of the same name is never taken over
    if user.disabled:
        return None, None
    before_groups, before_role = user_groups(db, user.id), user.role
    set_groups(db, user, ident.groups, origin="ldap")
    user.role, user.ldap_dn, user.display_name = ident.role, ident.dn, ident.display_name
    after = user_groups(db, user.id)
    if after != before_groups or before_role != ident.role:
        audit.record(db, user.username, "ldap.sync", user.username, ip=client_ip(), detail={
            "groups_added": sorted(after - before_groups),
            "groups_removed": sorted(before_groups - after),
            "role": [before_role, ident.role]})
    db.flush()
    return user, None


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    """The login form; failed attempts are throttled per address and per user name."""
    next_url = _safe_next(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        return render_template("login.html", error=None, next=next_url, username="")
    form, error = parse_form(LoginForm)
    if form is None:  # nothing is checked against the accounts (a 10 MB password is not hashed)
        return render_template("login.html", error=error, next=next_url, username=""), 422
    username, password = form.username, form.password
    throttle = current_app.extensions["enclave_throttle"]
    services = _services()
    with services.stack.sessions() as db:
        if not throttle.allowed(username):
            wait = throttle.retry_after(username)
            audit.record(db, username or "-", "login", username, outcome="denied",
                         detail={"reason": "rate limited"}, ip=client_ip())
            db.commit()
            return render_template(
                "login.html", next=next_url, username=username,
                error=f"Too many failed attempts. Try again in {wait} seconds.",
            ), 429, {"Retry-After": str(wait)}
        user = authenticate_local(db, username, password) if password else None
        error = None
        if user is None and password and services.settings.auth.ldap.enabled:
            local = get_user(db, username)
            if local is None or local.source == "ldap":
                user, error = _ldap_user(db, username, password)
        if user is None:
            throttle.failed(username)
            audit.record(db, username or "-", "login", username, outcome="failed",
                         detail={"reason": error or "wrong user name or password"},
                         ip=client_ip())
            db.commit()
            return render_template("login.html", next=next_url, username=username,
                                   error=error or "Wrong user name or password."), 401
        start_session(db, user)
        audit.record(db, user.username, "login", user.username,
                     detail={"source": user.source}, ip=client_ip())
        db.commit()
    return redirect(next_url)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End this browser's session."""
    user = account()
    with _services().stack.sessions() as db:
        audit.record(db, user.username, "logout", user.username, ip=client_ip())
        db.commit()
    end_session()
    return redirect(url_for("auth.login"))


def _render_account(message: str | None = None, error: str | None = None,
                    new_token: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    user = account()
    with _services().stack.sessions() as db:
        tokens = list_tokens(db, user.id)
        groups = sorted(user_groups(db, user.id))
    return render_template("account.html", tokens=tokens, groups=groups, message=message,
                           error=error, new_token=new_token), status


@bp.get("/account")
def account_page():  # type: ignore[no-untyped-def]
    """Your groups, password change and API tokens."""
    return _render_account()


@bp.post("/account/password")
@session_only
def change_password():  # type: ignore[no-untyped-def]
    """Change your own password (needs the current one); other sessions end."""
    user = account()
    settings = _services().settings
    form, error = parse_form(PasswordForm)
    if form is None:
        return _render_account(error=error, status=422)
    with _services().stack.sessions() as db:
        row = db.get(User, user.id)
        assert row is not None
        if not verify_password(row, form.current):
            audit.record(db, user.username, "password.change", user.username, outcome="failed",
                         ip=client_ip())
            db.commit()
            return _render_account(error="The current password is wrong.", status=400)
        new = form.new
        if new != form.confirm:
            return _render_account(error="The new passwords do not match.", status=400)
        try:
            set_password(db, row, new, settings.auth.min_password_length)
        except AccountError as exc:
            return _render_account(error=str(exc), status=400)
        audit.record(db, user.username, "password.change", user.username, ip=client_ip())
        db.commit()
        start_session(db, row)  # this browser stays logged in; every other session ended
        db.commit()
    return _render_account(message="Password changed. Other sessions were logged out.")


@bp.post("/account/tokens")
@session_only
def new_token():  # type: ignore[no-untyped-def]
    """Create an API token; its secret is shown once."""
    user = account()
    form, error = parse_form(TokenForm)
    if form is None:
        return _render_account(error=error, status=422)
    name = form.name or "token"
    with _services().stack.sessions() as db:
        row = db.get(User, user.id)
        assert row is not None
        token = create_token(db, row, name, _services().settings.auth.token_days)
        audit.record(db, user.username, "token.create", f"token {token.id}",
                     detail={"name": name, "prefix": token.prefix}, ip=client_ip())
        db.commit()
    return _render_account(new_token=token.secret,
                           message="Copy the token now: it is not shown again.")


@bp.post("/account/tokens/<int:token_id>/revoke")
@session_only
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of your API tokens (effective on its next request)."""
    user = account()
    with _services().stack.sessions() as db:
        row = revoke_token(db, token_id, user.id)
        if row is None:
            abort(404, f"no token {token_id}")
        audit.record(db, user.username, "token.revoke", f"token {token_id}",
                     detail={"owner_id": row.user_id}, ip=client_ip())
        db.commit()
    return _render_account(message="Token revoked.")
