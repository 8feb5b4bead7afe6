"""Object-id access (SECURITY.md row 6), restricted uploads and revocation through the web app.

Alice (curator; groups hr, staff, editors) and Bob (reader; group staff) share the handbook
collection (staff: read, editors: manage). Alice uploads an HR document restricted to ``hr``.
Bob must get 404 for its document, passage, source view, file, Alice's conversation and
the ingest job, while Alice still gets 200; and Bob's searches never see it, not even while
it is being ingested.
"""

from __future__ import annotations

import io
import threading

import pytest

from tests.conftest import USER_PASSWORD, login, make_user

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]

CANARY = "CANARY-HR-7f3a9c"
HR_TEXT = (
    "# Salary review 2027\n\n"
    f"Confidential: the salary review budget for 2027 is 4.2 percent. Reference {CANARY}. "
    "Only the HR team may read this note about compensation bands and the review calendar.\n"
)


@pytest.fixture
def world(app):  # type: ignore[no-untyped-def]
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection

    with app.extensions["enclave"].stack.sessions() as db:
        coll = get_collection(db, "handbook").id
        grant_collection(db, coll, "staff", "read")
        grant_collection(db, coll, "editors", "manage")
        get_or_create_group(db, "hr")
        db.commit()
    make_user(app, "alice", "curator", ("hr", "staff", "editors"))
    make_user(app, "bob", "reader", ("staff",))
    alice, bob = app.test_client(), app.test_client()
    assert login(alice, "alice", USER_PASSWORD).status_code == 302
    assert login(bob, "bob", USER_PASSWORD).status_code == 302
    return alice, bob


def _search_ids(client, query: str) -> list[int]:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/search", json={"query": query, "collection": "handbook", "k": 10})
    assert resp.status_code == 200, resp.get_json()
    return [h["document_id"] for h in resp.get_json()["hits"]]


def test_restricted_upload_is_never_visible_to_others(app, world) -> None:  # type: ignore[no-untyped-def]
    alice, bob = world
    seen_by_bob: list[str] = []
    done = threading.Event()
    bob_probe = app.test_client()
    login(bob_probe, "bob", USER_PASSWORD)

    def probe() -> None:  # Bob searches for the canary for as long as the ingest runs
        while not done.is_set():
            resp = bob_probe.post("/api/v1/search", json={"query": CANARY, "collection": "handbook"})
            seen_by_bob.extend(h["text"] for h in resp.get_json()["hits"] if CANARY in h["text"])

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        resp = alice.post("/api/v1/collections/handbook/documents?wait=1",
                          data={"files": (io.BytesIO(HR_TEXT.encode()), "salary-review.md"),
                                "restrict_to": "hr"},
                          content_type="multipart/form-data")
    finally:
        done.set()
        thread.join()
    assert resp.status_code == 201, resp.get_json()
    doc_id = resp.get_json()["results"][0]["document_id"]
    assert seen_by_bob == []
    assert alice.get(f"/api/v1/documents/{doc_id}").get_json()["restricted_to"] == ["hr"]
    assert _search_ids(alice, f"salary review budget {CANARY}")[0] == doc_id
    assert doc_id not in _search_ids(bob, f"salary review budget {CANARY}")
    names = [d["name"] for d in bob.get("/api/v1/collections/handbook/documents").get_json()["documents"]]
    assert "salary-review.md" not in names
    ask = bob.post("/api/v1/ask", json={"question": f"What is the salary review budget? {CANARY}",
                                        "collection": "handbook"})
    body = ask.get_json()
    body.pop("question")  # Bob typed the canary himself; nothing else may carry it
    assert CANARY not in str(body)


def test_unknown_group_in_restriction_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    alice, _ = world
    resp = alice.post("/api/v1/collections/handbook/documents",
                      data={"files": (io.BytesIO(HR_TEXT.encode()), "x.md"), "restrict_to": "hrr"},
                      content_type="multipart/form-data")
    assert resp.status_code == 422 and "unknown groups" in resp.get_json()["error"]


def test_other_users_objects_answer_404(app, world) -> None:  # type: ignore[no-untyped-def]
    alice, bob = world
    up = alice.post("/api/v1/collections/handbook/documents?wait=1",
                    data={"files": (io.BytesIO(HR_TEXT.encode()), "salary-review.md"),
                          "restrict_to": "hr"}, content_type="multipart/form-data").get_json()
    doc_id, job_id = up["results"][0]["document_id"], up["job_id"]
    chunk_id = alice.post("/api/v1/search", json={"query": CANARY, "collection": "handbook"}
                          ).get_json()["hits"][0]["chunk_id"]
    conv_id = alice.post("/api/v1/ask", json={"question": "What is the salary review budget?",
                                              "collection": "handbook"}).get_json()["conversation_id"]
    urls = [f"/api/v1/documents/{doc_id}", f"/api/v1/documents/{doc_id}/file",
            f"/api/v1/chunks/{chunk_id}", f"/sources/{chunk_id}",
            f"/sources/{doc_id}/page/1.png", f"/api/v1/conversations/{conv_id}",
            f"/api/v1/jobs/{job_id}"]
    for url in urls:
        assert alice.get(url).status_code in (200, 302), url  # 302: a page view of a non-PDF
        theirs = bob.get(url)
        assert theirs.status_code == 404, url
        assert CANARY not in theirs.get_data(as_text=True) and "salary" not in theirs.get_data(as_text=True)
    # Forbidden and unknown ids look the same.
    assert bob.get(f"/api/v1/chunks/{chunk_id}").get_json()["error"] == f"no passage {chunk_id}"
    assert bob.get("/api/v1/chunks/99999999").get_json()["error"] == "no passage 99999999"
    assert bob.delete(f"/api/v1/collections/handbook/documents/{doc_id}").status_code in (403, 404)
    assert bob.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 404
    assert alice.get(f"/api/v1/documents/{doc_id}").status_code == 200  # still there


def test_unreadable_and_unknown_collections_look_the_same(app, world) -> None:  # type: ignore[no-untyped-def]
    _, bob = world
    app.extensions["enclave"].ingestor.create_collection("legal")
    for name in ("legal", "does-not-exist"):
        for resp in (bob.get(f"/api/v1/collections/{name}/documents"),
                     bob.post("/api/v1/search", json={"query": "x", "collection": name}),
                     bob.post("/api/v1/ask", json={"question": "x?", "collection": name})):
            assert resp.status_code == 404
            assert resp.get_json()["error"] == f"no collection named {name!r}"
    listed = [c["name"] for c in bob.get("/api/v1/collections").get_json()["collections"]]
    assert listed == ["handbook"]


def test_revocation_takes_effect_on_the_next_request(app, client, world) -> None:  # type: ignore[no-untyped-def]
    _, bob = world
    assert _search_ids(bob, "meal allowance")
    assert client.patch("/api/v1/admin/users/bob", json={"groups": []}).status_code == 200
    assert bob.post("/api/v1/search", json={"query": "meal allowance", "collection": "handbook"}
                    ).status_code == 404
    assert client.patch("/api/v1/admin/users/bob", json={"groups": ["staff"]}).status_code == 200
    assert _search_ids(bob, "meal allowance")
    assert client.delete("/api/v1/admin/collections/handbook/grants/staff").status_code == 204
    assert bob.get("/api/v1/collections/handbook/documents").status_code == 404


def test_a_curator_outside_the_group_cannot_see_or_overwrite_restricted_work(app, world) -> None:  # type: ignore[no-untyped-def]
    alice, _ = world
    make_user(app, "carl", "curator", ("staff", "editors"))  # manages the handbook, not in hr
    carl = app.test_client()
    login(carl, "carl", USER_PASSWORD)
    up = alice.post("/api/v1/collections/handbook/documents?wait=1",
                    data={"files": (io.BytesIO(HR_TEXT.encode()), "salary-review.md"),
                          "restrict_to": "hr"}, content_type="multipart/form-data").get_json()
    doc_id, job_id = up["results"][0]["document_id"], up["job_id"]
    assert carl.get(f"/api/v1/jobs/{job_id}").status_code == 404  # its file names are private
    assert job_id not in [j["id"] for j in carl.get("/api/v1/jobs").get_json()["jobs"]]
    assert "salary-review.md" not in carl.get("/collections/handbook").get_data(as_text=True)
    # Uploading a file of the same name would replace a document Carl cannot read: refused.
    again = carl.post("/api/v1/collections/handbook/documents?wait=1",
                      data={"files": (io.BytesIO(b"# Overwrite\n\nNew text here.\n"),
                                      "salary-review.md")}, content_type="multipart/form-data")
    assert again.status_code == 422
    assert "cannot read" in again.get_json()["results"][0]["error"]
    doc = alice.get(f"/api/v1/documents/{doc_id}").get_json()
    assert doc["version"] == 1 and doc["restricted_to"] == ["hr"]


def test_managers_restrict_and_lift_from_the_collection_page(app, world) -> None:  # type: ignore[no-untyped-def]
    alice, bob = world

    def bob_sees() -> set[str]:
        docs = bob.get("/api/v1/collections/handbook/documents").get_json()["documents"]
        return {d["name"] for d in docs}

    doc = next(d for d in alice.get("/api/v1/collections/handbook/documents").get_json()["documents"]
               if d["name"] == "onboarding.md")
    url = f"/collections/handbook/documents/{doc['id']}/restrict"
    assert bob.post(url, data={"groups": "staff"}).status_code == 403  # a reader cannot
    assert alice.post(url, data={"groups": "hr"}).status_code == 302
    assert "onboarding.md" not in bob_sees()
    page = alice.get("/collections/handbook").get_data(as_text=True)
    assert 'name="groups" value="hr"' in page
    assert alice.post(url, data={"groups": ""}).status_code == 302
    assert "onboarding.md" in bob_sees()
