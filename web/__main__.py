"""CLI: ``python -m web serve`` runs the app with waitress; account administration commands.

- ``create-admin``: the first administrator. The password comes from ``ENCLAVE_ADMIN_PASSWORD``,
  or is asked for on a terminal, or (``--generate``) is generated and printed once. There is
  never a default password. ``--if-missing`` does nothing when an admin exists.
- ``user add|set``, ``grant``, ``token create|revoke``: the same operations as the admin page,
  written to the audit log with actor ``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
from typing import Any

from config.cli import cli_settings
from config.settings import Settings


def _catalog(settings: Settings) -> Any:
    """A session factory on the catalog with every table (accounts included) created."""
    from retrieval.catalog import Base, init_catalog, make_engine
    from web.auth import models  # noqa: F401 - registers the account tables

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sessions = init_catalog(make_engine(settings.catalog_url))
    Base.metadata.create_all(sessions.kw["bind"])
    return sessions


def _admin_exists(sessions: Any) -> bool:
    from sqlalchemy import select

    from web.auth.models import User

    with sessions() as db:
        return db.scalar(select(User.id).where(User.role == "admin",
                                               User.disabled.is_(False)).limit(1)) is not None


def _ask_password(min_length: int) -> str | None:
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"Password (at least {min_length} characters): ")
    if first != getpass.getpass("Repeat the password: "):
        print("The passwords do not match.", file=sys.stderr)
        return None
    return first


def create_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Create the first (or another) admin account."""
    from web.auth import audit
    from web.auth.accounts import AccountError, create_user

    sessions = _catalog(settings)
    if args.if_missing and _admin_exists(sessions):
        print("An admin account exists already; nothing to do.")
        return 0
    username = args.username or os.environ.get("ENCLAVE_ADMIN_USER") or "admin"
    password = os.environ.get("ENCLAVE_ADMIN_PASSWORD")
    generated = False
    if not password and args.generate:
        password, generated = secrets.token_urlsafe(18), True
    if not password:
        password = _ask_password(settings.auth.min_password_length)
    if not password:
        print("No password: set ENCLAVE_ADMIN_PASSWORD, run this on a terminal, or pass "
              "--generate to have one generated and printed once.", file=sys.stderr)
        return 2
    with sessions() as db:
        try:
            create_user(db, username, password, "admin", min_length=settings.auth.min_password_length)
        except AccountError as exc:
            print(f"Cannot create the admin: {exc}", file=sys.stderr)
            return 2
        audit.record(db, "cli", "user.create", username, detail={"role": "admin"})
        db.commit()
    print(f"Admin account {username!r} created.")
    if generated:
        print(f"Its password (shown once, change it on the Account page): {password}")
    return 0


def user_command(settings: Settings, args: argparse.Namespace) -> int:
    """``user add`` / ``user set``."""
    from web.auth import audit
    from web.auth.accounts import (
        AccountError,
        create_user,
        get_user,
        set_disabled,
        set_groups,
        set_role,
    )

    sessions = _catalog(settings)
    with sessions() as db:
        try:
            if args.user_command == "add":
                password = os.environ.get("ENCLAVE_USER_PASSWORD") or _ask_password(
                    settings.auth.min_password_length)
                if not password:
                    print("Set ENCLAVE_USER_PASSWORD or run this on a terminal.", file=sys.stderr)
                    return 2
                user = create_user(db, args.username, password, args.role or "reader",
                                   min_length=settings.auth.min_password_length)
                audit.record(db, "cli", "user.create", user.username, detail={"role": user.role})
            else:
                found = get_user(db, args.username)
                if found is None:
                    print(f"No user {args.username!r}.", file=sys.stderr)
                    return 1
                user = found
                if args.role:
                    set_role(db, user, args.role)
                    audit.record(db, "cli", "user.role", user.username, detail={"after": args.role})
                if args.disable or args.enable:
                    set_disabled(db, user, bool(args.disable))
                    audit.record(db, "cli", "user.disable" if args.disable else "user.enable",
                                 user.username)
            if args.groups is not None:
                set_groups(db, user, [g for g in args.groups.split(",") if g.strip()])
                audit.record(db, "cli", "user.groups", user.username,
                             detail={"after": args.groups})
        except AccountError as exc:
            print(f"Refused: {exc}", file=sys.stderr)
            return 2
        db.commit()
        print(f"{user.username}: role {user.role}, {'disabled' if user.disabled else 'active'}")
    return 0


def grant_command(settings: Settings, args: argparse.Namespace) -> int:
    """Grant (or revoke with ``none``) a group's access to a collection."""
    from retrieval.acl import grant_collection, revoke_collection
    from retrieval.catalog import get_collection
    from web.auth import audit

    sessions = _catalog(settings)
    with sessions() as db:
        coll = get_collection(db, args.collection)
        if coll is None:
            print(f"No collection {args.collection!r}.", file=sys.stderr)
            return 1
        if args.level == "none":
            revoke_collection(db, coll.id, args.group)
        else:
            grant_collection(db, coll.id, args.group, args.level)
        audit.record(db, "cli", "grant.change", f"{args.collection}:{args.group}",
                     detail={"after": None if args.level == "none" else args.level})
        db.commit()
    print(f"{args.group} -> {args.collection}: {args.level}")
    return 0


def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """Create or revoke an API token."""
    from web.auth import audit
    from web.auth.accounts import create_token, get_user, revoke_token

    sessions = _catalog(settings)
    with sessions() as db:
        if args.token_command == "create":
            user = get_user(db, args.username)
            if user is None or user.disabled:
                print(f"No active user {args.username!r}.", file=sys.stderr)
                return 1
            token = create_token(db, user, args.name, args.days or settings.auth.token_days)
            audit.record(db, "cli", "token.create", f"token {token.id}",
                         detail={"user": user.username, "name": args.name})
            db.commit()
            print(token.secret)
            return 0
        row = revoke_token(db, args.token_id)
        if row is None:
            print(f"No token {args.token_id}.", file=sys.stderr)
            return 1
        audit.record(db, "cli", "token.revoke", f"token {args.token_id}")
        db.commit()
        print(f"token {args.token_id} revoked")
    return 0


def client_command(args: argparse.Namespace) -> int:
    """``search`` / ``ask`` against a running server with an API token (ENCLAVE_TOKEN)."""
    import json
    import urllib.error
    import urllib.request

    token = args.token or os.environ.get("ENCLAVE_TOKEN")
    if not token:
        print("No API token: pass --token or set ENCLAVE_TOKEN (create one on the Account "
              "page or with `python -m web token create USER`).", file=sys.stderr)
        return 2
    if args.command == "search":
        path, body = "/api/v1/search", {"query": args.text, "collection": args.collection}
    else:
        path, body = "/api/v1/ask", {"question": args.text, "collection": args.collection}
    if args.k:
        body["k"] = args.k
    request = urllib.request.Request(
        args.url.rstrip("/") + path, data=json.dumps(body).encode("utf-8"), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as resp:  # noqa: S310 - local URL
            data = json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        print(f"{exc.code}: {message}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"Cannot reach {args.url}: {exc.reason}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=1))
    elif args.command == "search":
        for i, hit in enumerate(data["hits"], 1):
            where = f"{hit['document']}" + (f" p. {hit['page']}" if hit.get("page") else "")
            print(f"{i}. [{hit['score']:.2f}] {where}: {' '.join(hit['text'].split())[:160]}")
    else:
        print(data["answer"])
        for c in data.get("citations", []):
            where = c["document"] + (f", p. {c['page']}" if c.get("page") else "")
            print(f"  [{c['n']}] {where}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run a web command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m web")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default=None, help="bind address (default: web.host)")
    serve.add_argument("--port", type=int, default=None, help="port (default: web.port)")
    serve.add_argument("--no-warm-up", action="store_true", help="load models on first use")
    admin = sub.add_parser("create-admin", help="create an admin account (no default password)")
    admin.add_argument("--username", default=None, help="default: ENCLAVE_ADMIN_USER or admin")
    admin.add_argument("--if-missing", action="store_true", help="only when no admin exists")
    admin.add_argument("--generate", action="store_true",
                       help="without ENCLAVE_ADMIN_PASSWORD: generate a password, print it once")
    user = sub.add_parser("user", help="add or change a local user")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    for name in ("add", "set"):
        p = user_sub.add_parser(name, help=f"{name} a user (password: ENCLAVE_USER_PASSWORD or prompt)")
        p.add_argument("username")
        p.add_argument("--role", choices=("admin", "curator", "reader"), default=None)
        p.add_argument("--groups", default=None, help="comma-separated local group memberships")
        if name == "set":
            p.add_argument("--disable", action="store_true")
            p.add_argument("--enable", action="store_true")
    grant = sub.add_parser("grant", help="let a group read or manage a collection")
    grant.add_argument("collection")
    grant.add_argument("group")
    grant.add_argument("level", choices=("read", "manage", "none"))
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token for a user (printed once)")
    create.add_argument("username")
    create.add_argument("--name", default="cli")
    create.add_argument("--days", type=int, default=None)
    revoke = token_sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id", type=int)
    for name, what in (("search", "search a collection"), ("ask", "ask a question")):
        p = sub.add_parser(name, help=f"{what} on a running server (API token)")
        p.add_argument("text")
        p.add_argument("--collection", "-c", default="handbook")
        p.add_argument("--k", type=int, default=None)
        p.add_argument("--url", default=os.environ.get("ENCLAVE_URL", "http://127.0.0.1:8000"))
        p.add_argument("--token", default=None, help="default: ENCLAVE_TOKEN")
        p.add_argument("--timeout", type=float, default=300)
        p.add_argument("--json", action="store_true", help="print the raw JSON")
    args = parser.parse_args(argv)
    if args.command in ("search", "ask"):
        return client_command(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = cli_settings(args.profile)
    if settings is None:
        return 2
    if args.command == "create-admin":
        return create_admin(settings, args)
    if args.command == "user":
        return user_command(settings, args)
    if args.command == "grant":
        return grant_command(settings, args)
    if args.command == "token":
        return token_command(settings, args)

    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app(settings)
    services = app.extensions["enclave"]
    if not _admin_exists(services.stack.sessions):
        if os.environ.get("ENCLAVE_ADMIN_PASSWORD"):  # first start: the admin from the env
            first = argparse.Namespace(if_missing=True, username=None, generate=False)
            if create_admin(settings, first) != 0:
                return 2
        else:
            print("No admin account yet: create one with `python -m web create-admin` "
                  "(or set ENCLAVE_ADMIN_PASSWORD, or use `make run`, which does it for you).",
                  file=sys.stderr)
    if not args.no_warm_up:
        print("loading models…", flush=True)
        services.warm_up()
    host = args.host or settings.web.host
    port = args.port or settings.web.port
    print(f"Enclave is running on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    waitress_serve(app, host=host, port=port, threads=settings.web.threads,
                   channel_timeout=300, ident="Enclave")
    return 0


if __name__ == "__main__":
    sys.exit(main())
