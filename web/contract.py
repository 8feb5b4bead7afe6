"""The JSON API's contract: OpenAPI 3.1 from the pydantic models of :mod:`web.schemas`.

`flask-openapi3 <https://github.com/luolingchun/flask-openapi3>`_ builds the document from
the same models that validate each request (``body``/``query``/``path`` arguments of a
view) and from the response models each route declares, so the served document cannot
drift from the code. Views build their answers from those response models (:func:`reply`),
so what they send is what the document says.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Info, OpenAPI, Tag
from flask_openapi3.models import Schema
from flask_openapi3.utils import get_model_schema, normalize_name
from pydantic import BaseModel

from web.schemas import ErrorOut

API_PREFIX = "/api/v1"
# Paths of the JSON APIs (Enclave's and the OpenAI-compatible one): JSON errors, tokens.
API_PATHS = ("/api/", "/v1/")
API_VERSION = "1"
SECURITY_SCHEMES: dict[str, Any] = {
    "token": {"type": "http", "scheme": "bearer",
              "description": "An API token (Account page, or `python -m web token create`)."},
    "session": {"type": "apiKey", "in": "cookie", "name": "enclave_session",
                "description": "A browser login; changes also need the `X-CSRFToken` header."},
}
# One server-sent event, as OpenAPI 3.1 describes a text/event-stream item (the schema applies
# to each event): ``data`` carries JSON (``[DONE]`` ends the OpenAI-compatible stream).
SSE_EVENT: dict[str, Any] = {
    "type": "object", "required": ["data"],
    "properties": {"event": {"type": "string"}, "id": {"type": "string"},
                   "retry": {"type": "integer"},
                   "data": {"type": "string", "contentMediaType": "application/json"}},
}
# Every API route may answer these with the one error envelope (:class:`ErrorOut`).
ERRORS: dict[int, Any] = {
    400: ErrorOut,  # unparseable JSON, non-object body, nesting too deep
    401: ErrorOut,  # not logged in, bad token
    403: ErrorOut,  # logged in, not allowed
    404: ErrorOut,  # unknown, or not yours to see (the same answer)
    413: ErrorOut,  # body larger than web.max_json_kb
    415: ErrorOut,  # a body that is not application/json
    422: ErrorOut,  # schema errors, one entry per field
}


def openapi_app(import_name: str, validation_error_callback: Any) -> OpenAPI:
    """The Flask app, as flask-openapi3's subclass (its own doc pages off: see web.apidocs)."""
    return OpenAPI(
        import_name,
        info=Info(title="Enclave API", version=API_VERSION,
                  description="On-prem document Q&A: collections, documents, search and "
                              "cited answers. Every route needs a login or an API token."),
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        doc_ui=False,
        validation_error_status=422,
        validation_error_model=ErrorOut,
        validation_error_callback=validation_error_callback,
    )


def api_blueprint(name: str, import_name: str, url_prefix: str, tag: str,
                  description: str) -> APIBlueprint:
    """A blueprint of the JSON API: documented, token or session, the shared error answers."""
    return APIBlueprint(
        name, import_name, url_prefix=url_prefix,
        abp_tags=[Tag(name=tag, description=description)],
        abp_security=[{"token": []}, {"session": []}],
        abp_responses=ERRORS,
        operation_id_callback=_operation_id,
    )


def _operation_id(*, bp_name: str = "", name: str = "", path: str = "", method: str = "") -> str:
    """The view function's name (unique across the API): ``ask``, ``list_jobs``..."""
    return name


def reply(model: BaseModel, status: int = 200) -> Response:
    """``model`` as the JSON answer (built from the documented response model)."""
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def content(bp: APIBlueprint, description: str, json_model: type[BaseModel] | None = None,
            others: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A documented response with several media types (``others``: media type -> schema).

    ``json_model``'s schema (and the models it nests) is registered in the document's
    components, as flask-openapi3 does for a plain model response.
    """
    media: dict[str, Any] = {}
    if json_model is not None:
        schema = get_model_schema(json_model, mode="serialization")
        for def_name, value in schema.pop("$defs", {}).items():
            bp.components_schemas[normalize_name(def_name)] = Schema(**value)
        name = normalize_name(json_model.__name__)
        bp.components_schemas[name] = Schema(**schema)
        media["application/json"] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
    for media_type, schema in (others or {}).items():
        media[media_type] = {"schema": schema}
    return {"description": description, "content": media}
