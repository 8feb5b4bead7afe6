"""Error pages and JSON errors (the API always answers JSON).

This is the one place where the services' domain errors become HTTP answers.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from services.errors import ServiceError
from web.contract import API_PATHS
from web.validation import field_envelope


def wants_json() -> bool:
    """API paths and JSON clients get JSON errors."""
    return request.path.startswith(API_PATHS) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str):  # type: ignore[no-untyped-def]
    """A JSON or HTML error with a readable message."""
    if wants_json():
        return jsonify(error=message, status=status), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""
    limit = app.config["MAX_CONTENT_LENGTH"]

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):  # type: ignore[no-untyped-def]
        return error_response(
            413, f"The upload is larger than the limit of {limit / 2**20:g} MiB "
            "(web.max_upload_mb)."
        )

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):  # type: ignore[no-untyped-def]
        # NotFound 404, Forbidden 403, Invalid 422 (naming the field on the API), Refused 400,
        # Conflict 409: services/errors.py.
        if exc.field is not None and wants_json():
            return field_envelope(exc.field, exc.message)
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if exc.response is not None:  # a finished answer (the 422 schema-error envelope)
            return exc.response
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "Internal error; the server log has the details.")
