"""Login, logout, and the account page (password change, API tokens).

Who someone is, is decided by :mod:`services.identity`; this module keeps the browser's side:
the login throttle, the session cookie and the pages.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from services.errors import ServiceError
from services.identity import Identity
from web.auth.guards import actor, session_only
from web.auth.session import client_ip, end_session, start_session
from web.schemas import LoginForm, PasswordForm, TokenForm
from web.validation import parse_form

bp = Blueprint("auth", __name__)


def _identity() -> Identity:
    return current_app.extensions["enclave"].identity


def _safe_next(target: str | None) -> str:
    """A same-site path to go to after login (never another host: no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.ask_page")


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
    if not throttle.allowed(username):
        wait = throttle.retry_after(username)
        _identity().throttled(username, client_ip())
        return render_template(
            "login.html", next=next_url, username=username,
            error=f"Too many failed attempts. Try again in {wait} seconds.",
        ), 429, {"Retry-After": str(wait)}
    result = _identity().login(username, password, client_ip())
    if result.user_id is None:
        throttle.failed(username)
        return render_template("login.html", next=next_url, username=username,
                               error=result.message or "Wrong user name or password."), 401
    start_session(result.user_id)
    return redirect(next_url)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End this browser's session."""
    _identity().logout(actor())
    end_session()
    return redirect(url_for("auth.login"))


def _render_account(message: str | None = None, error: str | None = None,
                    new_token: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    me = actor()
    return render_template("account.html", tokens=_identity().tokens(me),
                           groups=_identity().groups(me), message=message, error=error,
                           new_token=new_token), status


@bp.get("/account")
def account_page():  # type: ignore[no-untyped-def]
    """Your groups, password change and API tokens."""
    return _render_account()


@bp.post("/account/password")
@session_only
def change_password():  # type: ignore[no-untyped-def]
    """Change your own password (needs the current one); other sessions end."""
    form, error = parse_form(PasswordForm)
    if form is None:
        return _render_account(error=error, status=422)
    me = actor()
    try:
        _identity().change_password(me, form.current, form.new, form.confirm)
    except ServiceError as exc:
        return _render_account(error=exc.message, status=exc.status)
    start_session(me.user_id)  # this browser stays logged in; every other session ended
    return _render_account(message="Password changed. Other sessions were logged out.")


@bp.post("/account/tokens")
@session_only
def new_token():  # type: ignore[no-untyped-def]
    """Create an API token; its secret is shown once."""
    form, error = parse_form(TokenForm)
    if form is None:
        return _render_account(error=error, status=422)
    token = _identity().create_token(actor(), form.name or "token")
    return _render_account(new_token=token.secret,
                           message="Copy the token now: it is not shown again.")


@bp.post("/account/tokens/<int:token_id>/revoke")
@session_only
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of your API tokens (effective on its next request)."""
    _identity().revoke_token(actor(), token_id)
    return _render_account(message="Token revoked.")
