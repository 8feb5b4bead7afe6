"""Liveness: ``/healthz``."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 with ``{"status": "ok"}`` when the catalog answers."""
    services = current_app.extensions["enclave"]
    with services.stack.sessions() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok")
