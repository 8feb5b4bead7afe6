"""Liveness: ``/healthz``."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 with ``{"status": "ok"}`` when the catalog answers."""
    current_app.extensions["enclave"].ping()
    return jsonify(status="ok")
