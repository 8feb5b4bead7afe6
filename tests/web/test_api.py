"""JSON API under /api/v1 with the real embedding model (and the real LLM for ask)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.web.conftest import parse_sse

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]

HANDBOOK_DOCS = {
    "travel-and-expenses.pdf", "leave-policy.docx", "it-security.html", "onboarding.md",
}
UPLOAD_NAME_RE = re.compile(r"^[0-9a-f]{32}\.[a-z]+$")

GARDEN_V1 = (
    "# Zephyr Garden Rota\n\n"
    "The rooftop zephyr garden on the fourth floor is looked after by the facilities team. "
    "It is watered every Tuesday morning before nine o'clock. The watering codeword for the "
    "zephyr garden is MARIGOLD-ORBIT; say it at the facilities desk to borrow the long hose. "
    "Volunteers from any department may join the rota by adding their name to the list "
    "pinned next to the greenhouse door.\n"
)
GARDEN_V2 = GARDEN_V1.replace("MARIGOLD-ORBIT", "PEONY-QUASAR").replace("Tuesday", "Thursday")
GARDEN_QUERY = "What is the watering codeword for the zephyr garden?"


def _upload(client, name: str, data: bytes, collection: str = "handbook"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/collections/{collection}/documents?wait=1",
        data={"files": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _search(client, query: str, collection: str = "handbook", k: int = 10) -> list[dict]:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/search", json={"query": query, "collection": collection, "k": k})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["hits"]


def _documents(client, collection: str = "handbook") -> list[dict]:  # type: ignore[no-untyped-def]
    resp = client.get(f"/api/v1/collections/{collection}/documents")
    assert resp.status_code == 200
    return resp.get_json()["documents"]


def _uploads_dir(app) -> Path:  # type: ignore[no-untyped-def]
    return app.extensions["enclave"].settings.uploads_dir


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# -- health, collections ------------------------------------------------------------------
def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_collections_lists_handbook(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/collections")
    assert resp.status_code == 200
    colls = {c["name"]: c for c in resp.get_json()["collections"]}
    assert set(colls) == {"handbook"}
    assert colls["handbook"]["documents"] == 4
    assert colls["handbook"]["failed"] == 0
    assert colls["handbook"]["chunks"] > 4


def test_create_collection(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/collections", json={"name": "projects"})
    assert resp.status_code == 201
    assert resp.get_json() == {"name": "projects"}
    colls = {c["name"]: c for c in client.get("/api/v1/collections").get_json()["collections"]}
    assert colls["projects"]["documents"] == 0
    assert _documents(client, "projects") == []


@pytest.mark.parametrize("bad", ["../x", "", "a/b", ".hidden", "x" * 65])
def test_create_collection_rejects_bad_name(client, bad: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/collections", json={"name": bad})
    assert resp.status_code == 422  # a schema error naming the field
    assert resp.get_json()["fields"][0]["field"] == "name"
    assert resp.is_json
    assert "invalid collection name" in resp.get_json()["error"]
    names = [c["name"] for c in client.get("/api/v1/collections").get_json()["collections"]]
    assert names == ["handbook"]


def test_documents_list(client) -> None:  # type: ignore[no-untyped-def]
    docs = _documents(client)
    assert {d["name"] for d in docs} == HANDBOOK_DOCS
    for d in docs:
        assert d["status"] == "ready" and d["error"] is None
        assert d["version"] == 1 and d["chunks"] > 0
    pdf = next(d for d in docs if d["name"] == "travel-and-expenses.pdf")
    assert pdf["file_type"] == "pdf" and pdf["pages"] == 3


def test_documents_of_unknown_collection_is_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/collections/nope/documents")
    assert resp.status_code == 404
    assert "nope" in resp.get_json()["error"]


# -- upload, replace, delete --------------------------------------------------------------
def test_upload_is_searchable_then_unchanged(app, client) -> None:  # type: ignore[no-untyped-def]
    resp = _upload(client, "garden.md", GARDEN_V1.encode())
    assert resp.status_code == 201
    [result] = resp.get_json()["results"]
    assert result["status"] == "added" and result["name"] == "garden.md"
    assert result["version"] == 1 and result["chunks"] >= 1

    hits = _search(client, GARDEN_QUERY)
    assert hits[0]["document"] == "garden.md"
    assert "MARIGOLD-ORBIT" in hits[0]["text"]
    assert len(_documents(client)) == 5
    stored = list(_uploads_dir(app).iterdir())
    assert len(stored) == 1 and UPLOAD_NAME_RE.match(stored[0].name)
    assert stored[0].read_bytes() == GARDEN_V1.encode()

    again = _upload(client, "garden.md", GARDEN_V1.encode())
    assert again.status_code == 201
    [result2] = again.get_json()["results"]
    assert result2["status"] == "unchanged"
    assert result2["document_id"] == result["document_id"] and result2["version"] == 1
    assert len(_documents(client)) == 5
    assert list(_uploads_dir(app).iterdir()) == stored  # the duplicate copy is not kept


def test_upload_changed_version_replaces(client) -> None:  # type: ignore[no-untyped-def]
    first = _upload(client, "garden.md", GARDEN_V1.encode()).get_json()["results"][0]
    resp = _upload(client, "garden.md", GARDEN_V2.encode())
    assert resp.status_code == 201
    [result] = resp.get_json()["results"]
    assert result["status"] == "replaced"
    assert result["version"] == 2 and result["document_id"] == first["document_id"]

    hits = _search(client, GARDEN_QUERY)
    assert hits[0]["document"] == "garden.md" and hits[0]["document_version"] == 2
    assert "PEONY-QUASAR" in hits[0]["text"]
    assert not any("MARIGOLD-ORBIT" in h["text"] for h in hits)
    assert not any("MARIGOLD-ORBIT" in h["text"] for h in _search(client, "MARIGOLD-ORBIT"))
    garden = [d for d in _documents(client) if d["name"] == "garden.md"]
    assert len(garden) == 1 and garden[0]["version"] == 2 and garden[0]["status"] == "ready"


def test_delete_document(app, client) -> None:  # type: ignore[no-untyped-def]
    added = _upload(client, "garden.md", GARDEN_V1.encode()).get_json()["results"][0]
    assert _search(client, GARDEN_QUERY)[0]["document"] == "garden.md"

    resp = client.delete(f"/api/v1/collections/handbook/documents/{added['document_id']}")
    assert resp.status_code == 204
    assert resp.data == b""
    hits = _search(client, GARDEN_QUERY)
    assert hits, "the handbook still has passages to return"
    assert all(h["document"] != "garden.md" for h in hits)
    assert not any("MARIGOLD-ORBIT" in h["text"] for h in hits)
    assert {d["name"] for d in _documents(client)} == HANDBOOK_DOCS
    assert list(_uploads_dir(app).iterdir()) == []  # the stored original is removed too

    again = client.delete(f"/api/v1/collections/handbook/documents/{added['document_id']}")
    assert again.status_code == 404


def test_delete_unknown_document_is_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.delete("/api/v1/collections/handbook/documents/999999")
    assert resp.status_code == 404
    assert resp.is_json and "999999" in resp.get_json()["error"]
    # a real id in the wrong collection is not found either
    doc_id = _documents(client)[0]["id"]
    client.post("/api/v1/collections", json={"name": "other"})
    assert client.delete(f"/api/v1/collections/other/documents/{doc_id}").status_code == 404
    assert len(_documents(client)) == 4


def test_upload_unsupported_type_is_422(app, client) -> None:  # type: ignore[no-untyped-def]
    resp = _upload(client, "setup.exe", b"MZ\x90\x00 not really a program")
    assert resp.status_code == 422
    [result] = resp.get_json()["results"]
    assert result["status"] == "failed"
    assert "unsupported" in result["error"] and ".exe" in result["error"]
    assert {d["name"] for d in _documents(client)} == HANDBOOK_DOCS
    uploads = _uploads_dir(app)
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_upload_without_files_is_400(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/collections/handbook/documents", data={},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "files" in resp.get_json()["error"]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../evil.md", "evil.md"),
        ("/etc/cron.d/evil.md", "evil.md"),
        # Sent unescaped (as an old browser would): werkzeug reads the backslashes of the
        # quoted header value as escapes, so only the safety properties are asserted.
        ("C:\\x\\..\\evil.md", None),
        ("..\\..\\..\\evil.md", None),
        # Escaped per RFC 7230 quoted-string: the server sees real backslashes.
        ("C:\\\\x\\\\..\\\\evil.md", "evil.md"),
        ("\\\\\\\\server\\\\share\\\\..\\\\evil.md", "evil.md"),
    ],
)
def test_upload_path_traversal_is_neutralised(  # type: ignore[no-untyped-def]
    app, client, tmp_path: Path, filename: str, expected: str | None
) -> None:
    settings = app.extensions["enclave"].settings
    data_dir = settings.data_dir.resolve()
    uploads = settings.uploads_dir.resolve()
    before = _files_under(tmp_path)

    resp = _upload(client, filename, GARDEN_V1.encode())
    assert resp.status_code == 201
    [result] = resp.get_json()["results"]
    assert result["status"] == "added"
    name = result["name"]
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.endswith("evil.md")
    if expected is not None:
        assert name == expected
    names = [d["name"] for d in _documents(client)]
    assert name in names
    assert not any("/" in n or "\\" in n for n in names)

    new = {p.resolve() for p in _files_under(tmp_path) - before}
    assert new, "the upload was stored somewhere"
    for path in new:
        assert path.is_relative_to(data_dir), f"written outside the data dir: {path}"
        assert "evil" not in path.name, f"client-chosen name used on disk: {path}"
    stored = [p for p in new if p.is_relative_to(uploads)]
    assert len(stored) == 1
    assert sorted(p.name for p in uploads.iterdir()) == [stored[0].name]
    assert UPLOAD_NAME_RE.match(stored[0].name) and stored[0].suffix == ".md"
    assert not list(tmp_path.rglob("evil*"))
    assert not Path("/etc/cron.d/evil.md").exists()


def test_oversized_upload_is_413(app, client) -> None:  # type: ignore[no-untyped-def]
    limit_mb = app.extensions["enclave"].settings.web.max_upload_mb
    assert limit_mb == 2  # the test profile
    big = b"a" * (3 * 2**20)
    resp = _upload(client, "big.md", big)
    assert resp.status_code == 413
    assert resp.is_json
    body = resp.get_json()
    assert body["status"] == 413
    assert "larger than the limit" in body["error"] and "2 MiB" in body["error"]
    assert {d["name"] for d in _documents(client)} == HANDBOOK_DOCS


# -- search -------------------------------------------------------------------------------
def test_search_returns_hits(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/search",
                      query_string={"query": "meal allowance", "collection": "handbook", "k": 3})
    assert resp.status_code == 200
    hits = resp.get_json()["hits"]
    assert len(hits) == 3
    assert hits[0]["document"] == "travel-and-expenses.pdf"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


@pytest.mark.parametrize(
    "body",
    [{"collection": "handbook"}, {"query": "   ", "collection": "handbook"},
     {"query": "meal allowance", "collections": []},  # no scope at all is every collection
     {"query": "x", "collection": "handbook", "k": "many"},
     {"query": "x", "collection": "handbook", "k": 1000}],
)
def test_search_bad_request_is_422(client, body: dict) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/search", json=body)
    assert resp.status_code == 422
    assert resp.is_json and resp.get_json()["error"]


def test_search_unknown_collection_is_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/search", json={"query": "meal allowance", "collection": "nope"})
    assert resp.status_code == 404
    assert "nope" in resp.get_json()["error"]


# -- ask ----------------------------------------------------------------------------------
def test_ask_json_cites_the_travel_policy(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/ask", json={
        "question": "What is the daily meal allowance?", "collection": "handbook",
    })
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["abstained"] is False
    assert body["answer"].strip()
    assert body["citations"], body
    assert any(c["document"] == "travel-and-expenses.pdf" for c in body["citations"])
    assert body["sources"] and body["model"].endswith(".gguf")


def test_ask_streamed_events_in_order(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/ask", json={
        "question": "What is the daily meal allowance?", "collection": "handbook", "stream": True,
    })
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    assert resp.headers["Cache-Control"] == "no-cache"
    events = parse_sse(resp.get_data(as_text=True))
    names = [name for name, _ in events]
    states = [data["state"] for name, data in events if name == "state"]
    assert names[:2] == ["state", "sources"] and states[0] == "searching"
    assert names[-1] == "done" and names.count("done") == 1
    tokens = [i for i, name in enumerate(names) if name == "token"]
    assert tokens and set(names[tokens[0]:tokens[-1] + 1]) == {"token"}, names
    # the model's draft streams between "writing" and "checking"
    assert states == ["searching", "writing", "checking"], states
    assert names[tokens[0] - 1] == "state" and names[tokens[-1] + 1] == "state"
    for name, data in events:
        assert data["event"] == name
    assert events[1][1]["sources"]
    done = events[-1][1]
    assert done["answer"].strip() and done["abstained"] is False
    assert any(c["document"] == "travel-and-expenses.pdf" for c in done["citations"])
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed.strip()
    assert done["draft"] in ("kept", "replaced")  # the page says which


def test_ask_unrelated_question_abstains(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/ask", json={
        "question": "What is the capital of Peru?", "collection": "handbook",
    })
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["abstained"] is True
    assert body["citations"] == []
    assert "do not contain" in body["answer"]
    assert body["sources"]  # the closest passages are still returned


@pytest.mark.parametrize(
    ("body", "status"),
    [({"collection": "handbook"}, 422),
     ({"question": "meal allowance?", "collections": []}, 422),  # no scope: every collection
     ({"question": "x" * 2001, "collection": "handbook"}, 422),
     ({"question": "meal allowance?", "collection": "nope"}, 404)],
)
def test_ask_errors(client, body: dict, status: int) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/ask", json=body)
    assert resp.status_code == status
    assert resp.is_json and resp.get_json()["error"]


# -- headers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/api/v1/collections", "/api/v1/collections/nope/documents", "/healthz",
             "/static/ask.js"],
)
def test_security_headers(client, path: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.get(path)
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("X-Frame-Options") == "DENY"


def test_replaced_upload_leaves_no_orphan_original(app, client) -> None:  # type: ignore[no-untyped-def]
    added = _upload(client, "garden.md", GARDEN_V1.encode()).get_json()["results"][0]
    assert _upload(client, "garden.md", GARDEN_V2.encode()).get_json()["results"][0][
        "status"] == "replaced"
    stored = list(_uploads_dir(app).iterdir())
    assert [p.read_bytes() for p in stored] == [GARDEN_V2.encode()]
    client.delete(f"/api/v1/collections/handbook/documents/{added['document_id']}")
    assert list(_uploads_dir(app).iterdir()) == []


def test_search_filters(client) -> None:  # type: ignore[no-untyped-def]
    body = {"query": "password length", "collection": "handbook", "k": 5}
    only_md = client.post("/api/v1/search", json={**body, "filters": {"file_types": ["md"]}})
    assert only_md.status_code == 200
    assert {h["document"] for h in only_md.get_json()["hits"]} == {"onboarding.md"}
    by_name = client.post("/api/v1/search",
                          json={**body, "filters": {"documents": ["leave-policy.docx"]}})
    assert {h["document"] for h in by_name.get_json()["hits"]} == {"leave-policy.docx"}
    future = client.post("/api/v1/search",
                         json={**body, "filters": {"updated_after": "2999-01-01"}})
    assert future.get_json()["hits"] == []
    for bad in ({"file_types": "md"}, {"document_ids": ["1"]}, {"colour": ["red"]},
                {"updated_after": "yesterday"}, ["md"]):
        resp = client.post("/api/v1/search", json={**body, "filters": bad})
        assert resp.status_code == 422, bad
        assert "filters" in resp.get_json()["error"]


# -- jobs ---------------------------------------------------------------------------------
def _wait_job(client, job_id: int, statuses=("done", "failed", "cancelled")) -> dict:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").get_json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_upload_returns_a_job_at_once_and_reports_progress(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/v1/collections/handbook/documents",
        data={"files": [(io.BytesIO(GARDEN_V1.encode()), "garden.md"),
                        (io.BytesIO(b"%PDF-1.4 nope"), "bad.pdf"),
                        (io.BytesIO(b"MZ"), "tool.exe")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["rejected"][0]["name"] == "tool.exe"
    assert "unsupported" in body["rejected"][0]["error"]
    job = _wait_job(client, body["job"]["id"])
    assert job["status"] == "failed" and job["total"] == 2 and job["finished"] == 2
    by_name = {f["name"]: f for f in job["files"]}
    assert by_name["garden.md"]["status"] == "added" and by_name["garden.md"]["chunks"] >= 1
    assert by_name["bad.pdf"]["status"] == "failed" and "PDF" in by_name["bad.pdf"]["error"]
    listed = client.get("/api/v1/jobs?collection=handbook").get_json()["jobs"]
    assert listed[0]["id"] == job["id"]
    assert client.get("/api/v1/jobs/999999").status_code == 404


def test_retry_failed_files_and_cancel(app, client) -> None:  # type: ignore[no-untyped-def]
    jobs = app.extensions["enclave"].job_runner
    resp = _upload(client, "later.pdf", b"%PDF-1.4 broken for now")
    job_id = resp.get_json()["job_id"]
    assert resp.get_json()["results"][0]["status"] == "failed"
    retry = client.post(f"/api/v1/jobs/{job_id}/retry")
    assert retry.status_code == 202
    again = _wait_job(client, retry.get_json()["id"])
    assert again["source"] == "retry" and again["files"][0]["name"] == "later.pdf"
    assert client.post(f"/api/v1/jobs/{again['id']}/retry").status_code == 202
    ok_job = _upload(client, "fine.md", GARDEN_V1.encode()).get_json()["job_id"]
    assert client.post(f"/api/v1/jobs/{ok_job}/retry").status_code == 409
    # a queued job cancels at once, before any file is ingested
    jobs.stop()
    from ingest.jobs import NewFile

    path = _uploads_dir(app) / "queued.md"
    path.write_text(GARDEN_V2)
    queued = jobs.create("handbook", [NewFile(path, "queued.md", "queued.md")])
    cancelled = client.post(f"/api/v1/jobs/{queued}/cancel").get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["files"][0]["status"] == "cancelled"
    assert all(h["document"] != "queued.md" for h in _search(client, "garden shed"))
