"""Enclave's Flask web app: ask page, collections and uploads, JSON API under /api/v1."""

from __future__ import annotations

import secrets

from flask import Flask

from config import configure_offline, load_settings
from config.settings import Settings
from retrieval.catalog import Base
from web import validation
from web.auth import models as _auth_models  # noqa: F401 - registers the account tables
from web.contract import openapi_app
from web.services import EnclaveServices, build_services


def _secret_key(settings: Settings) -> str:
    if settings.web.secret_key:
        return settings.web.secret_key
    path = settings.data_dir / "secret_key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def create_app(
    settings: Settings | None = None, services: EnclaveServices | None = None
) -> Flask:
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
    services = services or build_services(settings)
    app.extensions["enclave"] = services
    # Accounts, sessions, tokens, audit and evidence tables live in the catalog database.
    Base.metadata.create_all(services.stack.sessions.kw["bind"])
    # Start-up recovery: re-align the index with the catalog after a crash, drop orphan
    # files, put interrupted jobs back in the queue; then start the ingest worker.
    services.ingestor.check(repair=True)
    services.jobs.check_orphans(repair=True)
    services.jobs.start()

    from web import admin, api, apidocs, errors, health, jobs, library, pages, security, sources
    from web.auth import guards, session, views

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
    app.register_api(api.bp)
    app.register_api(jobs.bp)
    app.register_api(apidocs.bp)
    app.register_blueprint(apidocs.pages)
    app.register_blueprint(sources.bp)
    return app
