"""Fuzzing the JSON API against its own OpenAPI document (SECURITY.md row 22).

schemathesis reads ``/api/v1/openapi.json`` from the running app (with an admin's API token,
so every route is reachable) and sends generated requests to every operation: valid ones
and, in negative mode, requests that break the schema. It checks that no answer is a 5xx,
that every status, content type and body matches what the document declares, that
schema-breaking data is refused with a 4xx and schema-conforming data is not refused for
its shape. The budget is bounded: ``ENCLAVE_FUZZ_EXAMPLES`` examples per operation (default
below; the benchmark budget is larger, see docs/development.md).

The route-coverage test fails when an ``/api/v1`` route is missing from the document.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import _client_class, make_settings, make_token, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("ENCLAVE_FUZZ_EXAMPLES", "25"))
# Served for people, not part of the JSON contract: the reference page and its files.
UNDOCUMENTED = {"/api/v1/docs", "/api/v1/docs/assets/<path:filename>"}


@pytest.fixture(scope="module")
def fuzz_app(handbook_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real app on a copy of the ingested handbook, answering extractively (fast)."""
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection
    from web import create_app, start

    data = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(handbook_dir, data)
    # No scheduled syncs: a generated source might name a large system folder.
    app = start(create_app(make_settings(data, generation={"mode": "extractive"},
                                         ingest={"sync_interval_s": 0})))
    app.config["TESTING"] = True
    app.test_client_class = _client_class()
    make_user(app, "admin", "admin")
    make_user(app, "reader", "reader", ("staff",))
    with app.extensions["enclave"].stack.sessions() as db:
        get_or_create_group(db, "staff")
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        db.commit()
    yield app
    app.extensions["enclave"].close()


@pytest.fixture(scope="module")
def admin_auth(fuzz_app: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(fuzz_app, 'admin')}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any, admin_auth: dict[str, str]) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app, headers=admin_auth)


def test_every_api_route_is_documented(fuzz_app: Any, admin_auth: dict[str, str]) -> None:
    client = fuzz_app.test_client()
    doc = client.get("/api/v1/openapi.json", headers=admin_auth).get_json()
    assert doc["openapi"].startswith("3.1"), doc.get("openapi")
    documented = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item}
    missing = []
    for rule in fuzz_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule in UNDOCUMENTED:
            continue
        path = _openapi_path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (path, method) not in documented:
                missing.append(f"{method} {path}")
    assert not missing, f"API routes missing from /api/v1/openapi.json: {missing}"
    # Every operation documents its answers and its error envelope; ids are 64-bit.
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["responses"].get("422", {}).get("content"), (method, path)
            for param in op.get("parameters", []):
                if param["name"].endswith("_id"):
                    assert param["schema"]["maximum"] == 2**63 - 1, (path, param)


def _openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_document_needs_a_login(fuzz_app: Any) -> None:
    client = fuzz_app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 401
    assert client.get("/api/v1/docs").status_code in (302, 401)


# Operations whose schema-valid input can still break a rule no JSON Schema can state; for
# these a 400/422 answer to well-formed input is expected (with the reason in the envelope).
BUSINESS_RULES = {
    "POST /api/v1/admin/users": "password strength; user names unique and printable",
    "PATCH /api/v1/admin/users/{username}": "password strength; not your own role or account",
    "PUT /api/v1/documents/{document_id}/restrictions": "every group must exist",
    "POST /api/v1/collections/{name}/documents": "supported file types; 422 when all fail",
    "POST /api/v1/admin/sources": "an existing folder outside the data directory",
    "POST /v1/chat/completions": "the model names a collection you read; last message the user's",
    "POST /api/v1/collections/{name}/documents/{document_id}/reingest":
        "the document has a stored original",
}


def _fuzz(operation: Any, mode: Any, headers: dict[str, str]) -> None:
    """``EXAMPLES`` generated requests to one operation, every schemathesis check on each."""
    from hypothesis import given
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    excluded = [positive_data_acceptance] if operation.label in BUSINESS_RULES else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=excluded)
        if response.status_code in (400, 422):  # a refusal always says why
            body = response.json()
            files = body.get("rejected", []) + body.get("results", [])  # upload answers
            assert body.get("error") or (files and all(f["error"] for f in files)), body

    run()


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_fuzz(api_schema: Any, admin_auth: dict[str, str], mode: str) -> None:
    """Every operation of the document, in valid (positive) and schema-breaking modes."""
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation, schemathesis.GenerationMode(mode), admin_auth)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
