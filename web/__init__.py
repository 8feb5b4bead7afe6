"""Enclave's Flask web app: ask page, collections and uploads, JSON API under /api/v1.

``create_app(settings)`` is cheap: it wires blueprints to the services and starts nothing.
``start(app)`` does the start-up work (crash recovery, the ingest worker); the server and the
tests call it.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from flask import Flask

from config import configure_offline, load_settings
from config.settings import Settings
from services.container import Services, build_services
from web import (
    admin,
    api,
    apidocs,
    conversations,
    errors,
    health,
    jobs,
    library,
    openai_api,
    pages,
    security,
    sources,
    validation,
)
from web.auth import guards, session, views
from web.contract import openapi_app


def _secret_key(settings: Settings) -> str:
    if settings.web.secret_key:
        return settings.web.secret_key
    path = settings.data_dir / "secret_key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Several web processes may start at once: the first link wins, the rest read it.
        tmp = path.with_name(f".secret_key.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Application factory: one blueprint per area, services at ``extensions["enclave"]``."""
    configure_offline()
    settings = settings or load_settings()
    app = openapi_app(__name__, validation.validation_error_response)
    app.url_map.converters["int"] = validation.BoundedIntConverter  # ids: 1..2**63-1, else 404
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        MAX_CONTENT_LENGTH=int(settings.web.max_upload_mb * 2**20),
        JSON_SORT_KEYS=False,
    )
    app.extensions["enclave"] = services or build_services(settings)
    security.init_app(app)
    errors.init_app(app)
    # Order matters: refuse anonymous requests before anything else (a 401, not a CSRF 400).
    app.before_request(guards.require_login)
    session.init_app(app)
    validation.init_app(app, settings.web.max_json_kb, settings.web.max_json_depth)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_api(admin.api)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(conversations.bp)
    app.register_api(api.bp)
    app.register_api(jobs.bp)
    app.register_api(apidocs.bp)
    app.register_api(openai_api.bp)
    app.register_blueprint(apidocs.pages)
    app.register_blueprint(sources.bp)
    return app


def start(app: Flask) -> Flask:
    """Start-up work; returns ``app``.

    Re-aligns the index with the catalog after a crash, drops orphan uploads, requeues
    interrupted jobs and starts the ingest worker.
    """
    app.extensions["enclave"].start()
    return app
