"""CLI: ``python -m web serve`` runs the app with waitress; account administration commands.

- ``create-admin``: the first administrator. The password comes from ``ENCLAVE_ADMIN_PASSWORD``,
  or is asked for on a terminal, or (``--generate``) is generated and printed once. There is
  never a default password. ``--if-missing`` does nothing when an admin exists.
- ``upgrade``: migrate the database to this release's schema (``--check``: only say whether
  it is current). Start-up does the same unless ``database_auto_upgrade`` is off.
- ``mcp``: an MCP server (search and ask tools) for local agent tools, over stdio (token in
  ``ENCLAVE_TOKEN``) or streamable HTTP (``--transport http``; a bearer token per request).
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


def _services(settings: Settings) -> Any:
    """The services, database opened (migrated when ``database_auto_upgrade`` is on)."""
    from services.container import build_services

    services = build_services(settings)
    services.open()
    return services


def _admin_exists(services: Any) -> bool:
    return any(u.role == "admin" and not u.disabled
               for u in services.admin.users(_cli_actor()))


def _cli_actor() -> Any:
    from services.actor import Actor

    return Actor.cli()


def _ask_password(min_length: int) -> str | None:
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"Password (at least {min_length} characters): ")
    if first != getpass.getpass("Repeat the password: "):
        print("The passwords do not match.", file=sys.stderr)
        return None
    return first


def upgrade_command(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate the database (or, with ``--check``, report whether it is current)."""
    from services.database import schema_status, upgrade_database

    status = schema_status(settings)
    if args.check:
        print(f"database at {status.current or 'no migration'}; this release: {status.head}")
        return 0 if status.up_to_date else 1
    if status.up_to_date:
        print(f"The database is up to date ({status.head}).")
        return 0
    upgrade_database(settings)
    print(f"Upgraded the database from {status.current or 'no migration (new or pre-migration)'}"
          f" to {status.head}.")
    return 0


def mcp_command(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the MCP tools (stdio, or streamable HTTP on ``--host``/``--port``)."""
    from web.mcp_server import build_mcp

    services = _services(settings)
    if args.transport == "stdio":
        token = os.environ.get("ENCLAVE_TOKEN")
        if not token:
            print("Set ENCLAVE_TOKEN to an Enclave API token (the tools act as its owner).",
                  file=sys.stderr)
            return 2
        build_mcp(services, token).run("stdio")
        return 0
    url = f"http://{args.host}:{args.port}"
    print(f"Enclave MCP server on {url}/mcp (bearer: an Enclave API token)", file=sys.stderr,
          flush=True)
    build_mcp(services, url=url).run("streamable-http", host=args.host, port=args.port)
    return 0


def create_admin(settings: Settings, args: argparse.Namespace, services: Any = None) -> int:
    """Create the first (or another) admin account."""
    from services.admin import NewUser
    from services.errors import ServiceError

    services = services or _services(settings)
    if args.if_missing and _admin_exists(services):
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
    try:
        services.admin.create_user(_cli_actor(), NewUser(username, password, "admin"))
    except ServiceError as exc:
        print(f"Cannot create the admin: {exc.message}", file=sys.stderr)
        return 2
    print(f"Admin account {username!r} created.")
    if generated:
        print(f"Its password (shown once, change it on the Account page): {password}")
    return 0


def user_command(settings: Settings, args: argparse.Namespace) -> int:
    """``user add`` / ``user set``: the admin page's operations, audited as ``cli``."""
    from services.admin import NewUser, UserChanges
    from services.errors import NotFound, ServiceError

    services = _services(settings)
    groups = None if args.groups is None else [g for g in args.groups.split(",") if g.strip()]
    try:
        if args.user_command == "add":
            password = os.environ.get("ENCLAVE_USER_PASSWORD") or _ask_password(
                settings.auth.min_password_length)
            if not password:
                print("Set ENCLAVE_USER_PASSWORD or run this on a terminal.", file=sys.stderr)
                return 2
            user = services.admin.create_user(_cli_actor(), NewUser(
                args.username, password, args.role or "reader", groups or ()))
        else:
            disabled = True if args.disable else (False if args.enable else None)
            user = services.admin.update_user(_cli_actor(), args.username, UserChanges(
                role=args.role, disabled=disabled, groups=groups))
    except NotFound as exc:
        print(f"{exc.message[:1].upper()}{exc.message[1:]}.", file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"Refused: {exc.message}", file=sys.stderr)
        return 2
    print(f"{user.username}: role {user.role}, {'disabled' if user.disabled else 'active'}")
    return 0


def grant_command(settings: Settings, args: argparse.Namespace) -> int:
    """Grant (or revoke with ``none``) a group's access to a collection."""
    from services.errors import ServiceError

    services = _services(settings)
    try:
        services.admin.set_grant(_cli_actor(), args.collection, args.group,
                                 None if args.level == "none" else args.level)
    except ServiceError as exc:
        print(f"{exc.message[:1].upper()}{exc.message[1:]}.", file=sys.stderr)
        return 1
    print(f"{args.group} -> {args.collection}: {args.level}")
    return 0


def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """Create or revoke an API token."""
    from services.errors import ServiceError

    services = _services(settings)
    try:
        if args.token_command == "create":
            token = services.identity.create_token(_cli_actor(), args.name, args.username,
                                                   args.days)
            print(token.secret)
            return 0
        services.identity.revoke_token(_cli_actor(), args.token_id, any_owner=True)
    except ServiceError as exc:
        print(f"{exc.message[:1].upper()}{exc.message[1:]}.", file=sys.stderr)
        return 1
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
    # no scope (--all): every collection the token's user can read
    scope = {} if args.all else {"collections": args.collection or ["handbook"]}
    if args.command == "search":
        path, body = "/api/v1/search", {"query": args.text, **scope}
    else:
        path, body = "/api/v1/ask", {"question": args.text, **scope}
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
    mcp = sub.add_parser("mcp", help="MCP server: search and ask tools for agent tools")
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    mcp.add_argument("--port", type=int, default=8765, help="HTTP port")
    upgrade = sub.add_parser("upgrade", help="migrate the database to this release's schema")
    upgrade.add_argument("--check", action="store_true",
                         help="only report; exit status 1 when an upgrade is due")
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
    for name, what in (("search", "search collections"), ("ask", "ask a question")):
        p = sub.add_parser(name, help=f"{what} on a running server (API token)")
        p.add_argument("text")
        where = p.add_mutually_exclusive_group()
        where.add_argument("--collection", "-c", action="append", default=None,
                           help="a collection to search; repeat for several (default: handbook)")
        where.add_argument("--all", action="store_true",
                           help="every collection the token's user can read")
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
    if args.command == "upgrade":
        return upgrade_command(settings, args)
    from services.database import SchemaOutOfDate

    try:
        return _run(settings, args)
    except SchemaOutOfDate as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "mcp":
        return mcp_command(settings, args)
    if args.command == "create-admin":
        return create_admin(settings, args)
    if args.command == "user":
        return user_command(settings, args)
    if args.command == "grant":
        return grant_command(settings, args)
    if args.command == "token":
        return token_command(settings, args)

    from waitress import serve as waitress_serve

    from web import create_app, start

    app = start(create_app(settings))
    services = app.extensions["enclave"]
    if not _admin_exists(services):
        if os.environ.get("ENCLAVE_ADMIN_PASSWORD"):  # first start: the admin from the env
            first = argparse.Namespace(if_missing=True, username=None, generate=False)
            if create_admin(settings, first, services) != 0:
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
