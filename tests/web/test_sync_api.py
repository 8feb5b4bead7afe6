"""Synced folders through the admin API and page: create, list, sync now, delete; admins only;
paths validated (absolute, an existing folder, outside the data directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import USER_PASSWORD, login, make_token, make_user

pytestmark = pytest.mark.integration

API = "/api/v1/admin/sources"


def test_admin_attaches_syncs_and_detaches_a_folder(app: Any, client: Any, share: Path) -> None:
    made = client.post(API, json={"collection": "handbook", "path": str(share),
                                  "restrictions": {"/hr/": ["hr"]}})
    assert made.status_code == 201, made.get_json()
    source = made.get_json()
    assert source["restrictions"] == {"hr": ["hr"]} and source["last_run_at"] is None
    assert client.get(API).get_json()["sources"][0]["id"] == source["id"]

    synced = client.post(f"{API}/{source['id']}/sync")
    assert synced.status_code == 202, synced.get_json()
    report = synced.get_json()
    assert sorted(report["new"]) == ["desk.md", "hr/leave.md"] and report["job_id"]
    job = app.extensions["enclave"].job_runner.wait(report["job_id"], timeout=120)
    assert job["status"] == "done" and job["source"] == "sync"
    assert client.get(f"/api/v1/jobs/{report['job_id']}").get_json()["total"] == 2

    page = client.get("/admin/")
    assert page.status_code == 200 and str(share) in page.get_data(as_text=True)
    again = client.post(f"/admin/sources/{source['id']}/sync")
    assert again.status_code == 302 and "no+changes" in again.headers["Location"]

    assert client.delete(f"{API}/{source['id']}").status_code == 204
    assert client.get(API).get_json()["sources"] == []
    assert client.post(f"{API}/{source['id']}/sync").status_code == 404
    events = client.get("/api/v1/admin/audit").get_json()
    assert {"source.create", "source.sync", "source.delete"} <= {e["action"] for e in events}


def test_paths_are_validated(app: Any, client: Any, share: Path, tmp_path: Path) -> None:
    data_dir = app.extensions["enclave"].settings.data_dir
    (data_dir / "inside").mkdir(exist_ok=True)
    cases = {
        "share": 422,  # relative
        str(tmp_path / "missing"): 422,
        str(share / "desk.md"): 422,  # a file
        str(data_dir): 422,
        str(data_dir / "inside"): 422,
        str(data_dir.parent): 422,  # contains the data directory
    }
    for path, status in cases.items():
        resp = client.post(API, json={"collection": "handbook", "path": path})
        assert resp.status_code == status, (path, resp.get_json())
        assert resp.get_json()["fields"][0]["field"] == "path", path
    bad = [
        ({"collection": "nope", "path": str(share)}, 404),
        ({"collection": "handbook", "path": str(share), "restrictions": {"../x": ["hr"]}}, 422),
        ({"collection": "handbook", "path": str(share), "restrictions": {"hr": []}}, 422),
        ({"collection": "handbook", "path": str(share), "interval_s": -1}, 422),
        ({"collection": "handbook", "path": str(share), "extra": 1}, 422),
        ({"collection": "handbook", "path": 5}, 422),
    ]
    for body, status in bad:
        assert client.post(API, json=body).status_code == status, body
    assert client.post(API, json={"collection": "handbook", "path": str(share)}).status_code == 201
    assert client.post(API, json={"collection": "handbook", "path": str(share)}).status_code == 409


def test_non_admins_are_refused(app: Any, client: Any, share: Path) -> None:
    source = client.post(API, json={"collection": "handbook", "path": str(share)}).get_json()
    make_user(app, "cora", "curator")
    make_user(app, "rick", "reader")
    calls = [("GET", API, None), ("POST", API, {"collection": "handbook", "path": str(share)}),
             ("DELETE", f"{API}/{source['id']}", None),
             ("POST", f"{API}/{source['id']}/sync", None)]
    for user in ("cora", "rick"):
        session = app.test_client()
        assert login(session, user, USER_PASSWORD).status_code == 302
        token = app.test_client()
        token.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app, user)}"
        for c in (session, token):
            for method, url, body in calls:
                assert c.open(url, method=method, json=body).status_code == 403, (user, url)
        assert session.post(f"/admin/sources/{source['id']}/sync").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(API).status_code == 401
    assert [s["id"] for s in client.get(API).get_json()["sources"]] == [source["id"]]
    assert client.get(API).get_json()["sources"][0]["last_run_at"] is None  # never synced
