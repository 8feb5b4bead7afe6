"""The API's own documentation: ``/api/v1/openapi.json`` and a reference page at ``/api/v1/docs``.

Both need a login like every other route. The reference page is Swagger UI, served from the
files that ship inside the ``flask-openapi3-swagger`` package (no CDN, works air-gapped),
started by an external script so the page keeps the app's strict CSP.
"""

from __future__ import annotations

from pathlib import Path

import flask_openapi3_swagger
from flask import Blueprint, current_app, jsonify, render_template

from web.contract import API_PREFIX, api_blueprint

SWAGGER_ASSETS = Path(flask_openapi3_swagger.__file__).parent / "templates" / "swagger"

bp = api_blueprint("apidocs_api", __name__, API_PREFIX, "meta", "This document.")
pages = Blueprint("apidocs", __name__, url_prefix=API_PREFIX + "/docs",
                  static_folder=str(SWAGGER_ASSETS), static_url_path="/assets")

_DOCUMENT = {"description": "The OpenAPI 3.1 document of /api/v1.",
             "content": {"application/json": {"schema": {"type": "object"}}}}


@bp.get("/openapi.json", responses={200: _DOCUMENT})
def openapi_document():  # type: ignore[no-untyped-def]
    """The OpenAPI 3.1 document of this API (generated from the request and response models)."""
    return jsonify(current_app.api_doc)  # type: ignore[attr-defined]


@pages.get("")
def reference():  # type: ignore[no-untyped-def]
    """The API reference, rendered from the OpenAPI document (Swagger UI, served locally)."""
    response = current_app.make_response(render_template("apidocs.html"))
    # Swagger UI's stylesheet draws its icons from data: URIs; nothing else is loosened.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'")
    return response
