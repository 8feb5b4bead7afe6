"""Request validation for the whole app: strict JSON, bounded ids, one error envelope.

- JSON bodies of ``/api/`` requests are checked *before* decoding: size (``web.max_json_kb``,
  413) and nesting depth (``web.max_json_depth``, 400) are measured on the raw bytes, so a
  body nested tens of thousands of levels deep never reaches the recursive decoder. Then the
  body is decoded strictly: ``NaN``, ``Infinity`` and numbers that overflow to infinity
  (``1e999``) are refused (400), as are non-object bodies and bodies sent without
  ``Content-Type: application/json`` (415).
- A query parameter given twice is a 422, unless the route's query schema declares it a list
  (``?collections=a&collections=b`` on ``GET /api/v1/search``: :func:`list_params`).
- Integer path segments (``<int:...>``) match only 1..2**63-1: an id out of range answers
  the same 404 as an unknown id instead of overflowing in the database driver.
- Schema errors (flask-openapi3 validates each view's ``body``/``query``/``path`` argument
  against the pydantic models of :mod:`web.schemas`) answer 422 with the envelope of
  :class:`web.schemas.ErrorOut`, naming each offending field (:func:`validation_error_response`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import typing
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from ingest.pipeline import COLLECTION_NAME_RE, validate_collection_name
from web.contract import API_PATHS
from web.schemas import MAX_ID, ErrorOut, FieldError

M = TypeVar("M", bound=BaseModel)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def at_most(limit: int) -> str:
    """A regular expression of the decimal numbers 1..``limit`` (no sign, no leading zeros)."""
    digits = str(limit)
    n = len(digits)
    parts = [rf"[1-9]\d{{0,{n - 2}}}"] if n > 1 else []  # fewer digits than the limit
    for i, d in enumerate(digits):  # as many: a smaller digit after the limit's prefix
        low, top = (1 if i == 0 else 0), int(d) - 1
        if top >= low:
            rest = n - i - 1
            parts.append(f"{digits[:i]}[{low}-{top}]" + (rf"\d{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([*parts, digits]) + ")"


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for database ids: 1..2**63-1, else the route does not match (404).

    The range is in the converter's regular expression, not only in its conversion: a path
    whose id is out of range then matches no route at all (404), where a failed conversion
    would let another method's route on the same path answer 405.
    """

    regex = at_most(MAX_ID)

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large (not finite)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN, Infinity and numbers that overflow to infinity."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode JSON text strictly."""
        kwargs.setdefault("parse_float", _finite_float)
        kwargs.setdefault("parse_constant", _no_constant)
        return json.loads(s, **kwargs)


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in ``data``, counted on the raw bytes (no decoding).

    Brackets inside strings do not count. Linear in the size of ``data``.
    """
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', data)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


@functools.cache
def array_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a query schema that are lists (an array, or an optional one).

    They are the query parameters that may repeat, collected with ``getlist`` (as
    flask-openapi3 does).
    """
    props = model.model_json_schema().get("properties", {})
    return frozenset(name for name, prop in props.items()
                     if prop.get("type") == "array"
                     or any(p.get("type") == "array" for p in prop.get("anyOf", [])))


@functools.cache
def list_params(view: Any) -> frozenset[str]:
    """The query parameters the view's query schema declares as lists: the ones that may repeat.

    Read from the pydantic model of the view's ``query`` argument (:func:`array_fields`);
    none for any other view.
    """
    func = getattr(view, "__wrapped__", None)
    if func is None:
        return frozenset()
    try:
        model = typing.get_type_hints(func).get("query")
    except (NameError, TypeError):
        return frozenset()
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return frozenset()
    return array_fields(model)


def _guard_api_request(max_bytes: int, max_depth: int) -> Any:
    """``before_request``: one value per query parameter (lists aside); the JSON body decoded strictly."""
    if not request.path.startswith(API_PATHS):
        return None
    lists = list_params(current_app.view_functions.get(request.endpoint or ""))
    repeated = [key for key, values in request.args.lists() if len(values) > 1
                and key not in lists]
    if repeated:  # a query parameter is a single value unless its schema says it is a list
        abort(_envelope([FieldError(field=key, message="given more than once; send one value",
                                    type="query_repeated") for key in repeated]))
    if request.method not in BODY_METHODS:
        return None
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded") and \
            request.path.endswith("/documents"):
        return None  # the upload form (files), validated by its view
    length = request.content_length
    if length is not None and length > max_bytes:
        abort(413, f"The JSON body is larger than {max_bytes // 1024} KiB (web.max_json_kb).")
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        abort(413, f"The JSON body is larger than {max_bytes // 1024} KiB (web.max_json_kb).")
    if not data.strip():
        return None  # no body: the view's schema says whether one is required
    if not request.is_json:
        abort(415, "Send the body as JSON with 'Content-Type: application/json'.")
    depth = json_depth(data)
    if depth > max_depth:
        abort(400, f"The JSON body is nested {depth} levels deep; at most {max_depth} are "
              "allowed (web.max_json_depth).")
    try:  # decoded once: Flask keeps the result for the view's schema (request.get_json)
        body = request.get_json(cache=True)
    except BadRequest as exc:  # JSONDecodeError, UnicodeDecodeError, non-finite numbers
        abort(400, f"The request body is not valid JSON: {_short(exc.__cause__ or exc)}")
    if not isinstance(body, dict):
        abort(400, f"The request body must be a JSON object, not {_json_kind(body)}.")
    return None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), "a value")


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict[str, Any]) -> str:
    if err["type"] in ("model_type", "model_attributes_type", "dict_type") and not err["loc"]:
        return "the request body must be a JSON object (send 'Content-Type: application/json')"
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "string_pattern_mismatch":
        if "\x00" in str(err.get("input", "")):
            return "must not contain NUL bytes"
        if err["ctx"]["pattern"] == COLLECTION_NAME_RE.pattern:
            try:
                validate_collection_name(err["input"])
            except ValueError as exc:  # the same words as the CLI and the collections page
                return str(exc)
        return f"has characters that are not allowed (pattern {err['ctx']['pattern']})"
    return str(err["msg"])


def _envelope(fields: list[FieldError]) -> Response:
    """A 422 :class:`ErrorOut` naming each offending field."""
    summary = "; ".join(f"{f.field or 'body'}: {f.message}" for f in fields[:5])
    if len(fields) > 5:
        summary += f"; and {len(fields) - 5} more"
    out = ErrorOut(error=f"The request is not valid: {summary}", status=422, fields=fields)
    response = jsonify(out.model_dump())
    response.status_code = 422
    return response


def validation_error_response(exc: ValidationError) -> Response:
    """The 422 envelope for a schema error: ``{"error", "status", "fields": [...]}``."""
    return _envelope([FieldError(field=_field_name(tuple(err["loc"])), message=_message(err),
                                 type=err["type"]) for err in exc.errors(include_url=False)])


def field_envelope(field: str, message: str, kind: str = "value_error") -> Response:
    """The 422 envelope for one field refused by a rule the schema cannot state."""
    return _envelope([FieldError(field=field, message=message, type=kind)])


def init_app(app: Flask, max_json_kb: int, max_json_depth: int) -> None:
    """Install the strict JSON decoder and the body guard (after the login check)."""
    app.json = StrictJSONProvider(app)
    max_bytes = max_json_kb * 1024
    app.before_request(lambda: _guard_api_request(max_bytes, max_json_depth))


def form_errors(exc: ValidationError) -> str:
    """One readable line naming each offending form field."""
    return "; ".join(f"{_field_name(tuple(err['loc'])) or 'form'}: {_message(err)}"
                     for err in exc.errors(include_url=False))


def parse_form(model: type[M]) -> tuple[M | None, str | None]:
    """The posted HTML form validated against ``model``: ``(form, None)`` or ``(None, why)``.

    Views show ``why`` on the page (422) and change nothing.
    """
    return _validated(model, request.form.to_dict(), "The form is not valid")


def parse_query(model: type[M]) -> tuple[M | None, str | None]:
    """A page's query string validated against ``model``: ``(query, None)`` or ``(None, why)``.

    The model's list fields (:func:`array_fields`) may repeat (``?collections=a&collections=b``).
    """
    data: dict[str, Any] = request.args.to_dict()
    for name in array_fields(model):
        data[name] = request.args.getlist(name)
    return _validated(model, data, "The address is not valid")


def _validated(model: type[M], data: dict[str, Any], what: str) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, f"{what}: {form_errors(exc)}"
