"""CLI: ``python -m web serve`` runs the app with waitress (a production WSGI server)."""

from __future__ import annotations

import argparse
import logging
import sys

from config.cli import cli_settings


def main(argv: list[str] | None = None) -> int:
    """Run a web command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m web")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default=None, help="bind address (default: web.host)")
    serve.add_argument("--port", type=int, default=None, help="port (default: web.port)")
    serve.add_argument("--no-warm-up", action="store_true", help="load models on first use")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = cli_settings(args.profile)
    if settings is None:
        return 2

    from waitress import serve as waitress_serve

    from web import create_app

    app = create_app(settings)
    services = app.extensions["enclave"]
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
