"""Scope and search (issue 16): one, several or all readable collections per question or search.

The handbook plus two collections: ``projects`` (readable by staff, with one document
restricted to ``hr``) and ``board`` (readable by the board only). Bob (reader, staff) may read
the handbook and projects. Whatever scope he asks for, he never gets a passage of the board
collection or of the restricted document; naming the board collection answers exactly as an
unknown collection does. The search page marks the matched words and escapes the passage.
"""

from __future__ import annotations

import io
from typing import Any

import lxml.html
import pytest

from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login
from tests.web.conftest import parse_sse

pytestmark = pytest.mark.integration

PROJECTS_TEXT = (b"# Project kickoff\n\nEvery project kickoff meeting books the orchid room and "
                 b"records its codeword ZEPHYR-KICKOFF-41 in the project log.\n")
HR_TEXT = (b"# Project salaries\n\nThe project bonus pool for the kickoff team is codeword "
           b"SALARY-CANARY-93, for HR only.\n")
BOARD_TEXT = (b"# Board minutes\n\nThe board approved the kickoff of project orchid under the "
              b"codeword BOARD-CANARY-17.\n")
HOSTILE_TXT = (b"Allowance notes <script>window.__x=1</script> <b>bold</b> & the meal "
               b"allowance rule MARKUP-CANARY-55.\n")


@pytest.fixture
def scope_app(extractive_handbook_app):  # type: ignore[no-untyped-def]
    """The handbook app answering extractively (tests/web/conftest.py)."""
    return extractive_handbook_app


def _upload(client: Any, collection: str, name: str, data: bytes,
            restrict_to: str | None = None) -> dict[str, Any]:
    form: dict[str, Any] = {"files": (io.BytesIO(data), name)}
    if restrict_to:
        form["restrict_to"] = restrict_to
    resp = client.post(f"/api/v1/collections/{collection}/documents?wait=1", data=form,
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["results"][0]


@pytest.fixture
def world(scope_app):  # type: ignore[no-untyped-def]
    """(admin, bob, carol) clients over handbook, projects and board."""
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection
    from tests.conftest import make_user

    make_user(scope_app, "admin", "admin", password=ADMIN_PASSWORD)
    admin = scope_app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    for name in ("projects", "board"):
        assert admin.post("/api/v1/collections", json={"name": name}).status_code == 201
    with scope_app.extensions["enclave"].stack.sessions() as db:
        for group in ("staff", "hr", "board"):
            get_or_create_group(db, group)
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        grant_collection(db, get_collection(db, "projects").id, "staff", "read")
        grant_collection(db, get_collection(db, "board").id, "board", "read")
        db.commit()
    _upload(admin, "projects", "kickoff.md", PROJECTS_TEXT)
    _upload(admin, "projects", "salaries.md", HR_TEXT, restrict_to="hr")
    _upload(admin, "board", "minutes.md", BOARD_TEXT)
    make_user(scope_app, "bob", "reader", ("staff",))
    make_user(scope_app, "carol", "reader", ("staff",))
    bob, carol = scope_app.test_client(), scope_app.test_client()
    assert login(bob, "bob", USER_PASSWORD).status_code == 302
    assert login(carol, "carol", USER_PASSWORD).status_code == 302
    return admin, bob, carol


def _search(client: Any, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    resp = client.post("/api/v1/search", json={"k": 20, **body})
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


QUERY = "project kickoff codeword meal allowance"


def _texts(found: dict[str, Any]) -> str:
    return " ".join(h["text"] for h in found["hits"])


# -- search ---------------------------------------------------------------------------------
def test_several_collections_are_searched_as_one(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    found = _search(bob, {"query": QUERY, "collections": ["projects", "handbook"]})
    assert found["collections"] == ["projects", "handbook"]
    assert found["collection"] == "handbook,projects"
    assert {h["collection"] for h in found["hits"]} == {"handbook", "projects"}
    assert "ZEPHYR-KICKOFF-41" in _texts(found)
    scores = [h["fused_score"] for h in found["hits"]]
    assert len(scores) == len({h["chunk_id"] for h in found["hits"]})  # no passage twice
    # ``collection`` and ``collections`` together: their union, each once
    both = _search(bob, {"query": QUERY, "collection": "handbook",
                         "collections": ["projects", "handbook"]})
    assert both["collections"] == ["handbook", "projects"]


def test_all_readable_collections_never_include_unreadable_ones(world) -> None:  # type: ignore[no-untyped-def]
    admin, bob, _ = world
    for query in ("BOARD-CANARY-17 board minutes orchid", "SALARY-CANARY-93 project bonus pool"):
        found = _search(bob, {"query": query})
        assert found["collections"] == ["handbook", "projects"]
        assert found["collection"] == "*"
        text = _texts(found)
        assert "BOARD-CANARY" not in text and "SALARY-CANARY" not in text
        assert {h["document"] for h in found["hits"]} <= {
            "kickoff.md", "it-security.html", "leave-policy.docx", "onboarding.md",
            "travel-and-expenses.pdf"}
        get = bob.get("/api/v1/search", query_string={"query": query, "k": 20})
        assert get.status_code == 200 and "CANARY" not in str(get.get_json()["hits"]).replace(
            "ZEPHYR-KICKOFF", "")
    # the admin reads everything: the same searches find both canaries
    assert "BOARD-CANARY-17" in _texts(_search(admin, {"query": "BOARD-CANARY-17 board minutes"}))
    assert "SALARY-CANARY-93" in _texts(_search(admin, {"query": "SALARY-CANARY-93 bonus pool",
                                                        "collections": ["projects", "board"]}))


def test_restricted_document_stays_hidden_in_a_multi_collection_scope(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    found = _search(bob, {"query": "SALARY-CANARY-93 project bonus pool kickoff",
                          "collections": ["handbook", "projects"]})
    assert "SALARY-CANARY" not in _texts(found)
    assert "salaries.md" not in {h["document"] for h in found["hits"]}


def test_an_unreadable_collection_answers_as_an_unknown_one(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    hidden = _search(bob, {"query": QUERY, "collections": ["handbook", "board"]}, 404)
    unknown = _search(bob, {"query": QUERY, "collections": ["handbook", "nowhere"]}, 404)
    assert hidden["error"].replace("board", "X") == unknown["error"].replace("nowhere", "X")
    for body in ({"question": "kickoff?", "collections": ["board"]},
                 {"question": "kickoff?", "collection": "board"}):
        resp = bob.post("/api/v1/ask", json=body)
        assert resp.status_code == 404, resp.get_json()
    # an empty list is a schema error, not "everything"
    assert bob.post("/api/v1/search", json={"query": QUERY, "collections": []}).status_code == 422


def _get_search(client: Any, params: list[tuple[str, str]], status: int = 200) -> dict[str, Any]:
    resp = client.get("/api/v1/search", query_string=[("query", QUERY), ("k", "20"), *params])
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_get_search_takes_the_scope_of_post_search(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    several = _get_search(bob, [("collections", "projects"), ("collections", "handbook")])
    posted = _search(bob, {"query": QUERY, "collections": ["projects", "handbook"]})
    assert several["collections"] == ["projects", "handbook"]
    assert several["collection"] == "handbook,projects"
    assert [h["chunk_id"] for h in several["hits"]] == [h["chunk_id"] for h in posted["hits"]]
    assert "ZEPHYR-KICKOFF-41" in _texts(several)
    # with ``collection`` too: their union, each once; ``collection`` alone as before
    both = _get_search(bob, [("collection", "handbook"), ("collections", "projects"),
                             ("collections", "handbook")])
    assert both["collections"] == ["handbook", "projects"]
    assert _get_search(bob, [("collection", "projects")])["collections"] == ["projects"]
    assert _get_search(bob, [])["collection"] == "*"
    # an unreadable collection among readable ones: the same 404 as an unknown one
    hidden = _get_search(bob, [("collections", "handbook"), ("collections", "board")], 404)
    unknown = _get_search(bob, [("collections", "handbook"), ("collections", "nowhere")], 404)
    assert hidden["error"].replace("board", "X") == unknown["error"].replace("nowhere", "X")
    assert _get_search(bob, [("collection", "board")], 404)["error"] == hidden["error"]
    # a malformed scope is a 422 naming the field; only list parameters may repeat
    for params, field in (([("collections", "")], "collections[0]"),
                          ([("collections", "handbook"), ("collections", "no spaces")],
                           "collections[1]"),
                          ([(("collections", f"c{i}")) for i in range(51)], "collections"),
                          ([("collection", "handbook"), ("collection", "projects")], "collection"),
                          ([("k", "3")], "k")):  # k twice: the helper sends k=20 too
        refused = _get_search(bob, params, 422)
        assert field in [f["field"] for f in refused["fields"]], refused
    # a list on this route only: another route's repeated ``collections`` is still refused
    elsewhere = bob.get("/api/v1/collections", query_string=[("collections", "handbook"),
                                                             ("collections", "projects")])
    assert elsewhere.status_code == 422
    assert elsewhere.get_json()["fields"][0]["type"] == "query_repeated"
    # the OpenAPI document says so: ``collections`` is an array of collection names
    doc = bob.get("/api/v1/openapi.json").get_json()
    param = next(p for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]
                 if p["name"] == "collections")
    assert param["in"] == "query" and param["schema"]["type"] == "array"
    assert param["schema"]["items"]["pattern"]


# -- ask and conversations ------------------------------------------------------------------
def _ask(client: Any, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    resp = client.post("/api/v1/ask", json={"stream": True, **body})
    assert resp.status_code == status, resp.get_json()
    if status != 200:
        return resp.get_json()
    events = parse_sse(resp.get_data(as_text=True))
    assert events[-1][0] == "done", events[-1]
    return {"sources": next(d for n, d in events if n == "sources"), "done": events[-1][1]}


def test_ask_over_several_collections_keeps_the_scope_in_the_conversation(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    first = _ask(bob, {"question": "Which room does a project kickoff meeting book?",
                       "collections": ["projects", "handbook"]})
    assert "projects" in {s["collection"] for s in first["sources"]["sources"]}
    conv = first["done"]["conversation_id"]
    thread = bob.get(f"/api/v1/conversations/{conv}").get_json()
    assert thread["collection"] == "handbook,projects"
    assert thread["collections"] == ["handbook", "projects"]
    listed = bob.get("/api/v1/conversations").get_json()["conversations"]
    assert listed[0]["collections"] == ["handbook", "projects"]
    # a follow-up without a scope continues in the conversation's own scope
    again = _ask(bob, {"question": "and its codeword?", "conversation_id": conv})
    assert again["done"]["conversation_id"] == conv
    # the same scope given again is fine; another scope is refused
    _ask(bob, {"question": "and the log?", "conversation_id": conv,
               "collections": ["handbook", "projects"]})
    refused = _ask(bob, {"question": "and the log?", "conversation_id": conv,
                         "collection": "handbook"}, 400)
    assert "handbook, projects" in refused["error"]


def test_ask_over_all_readable_collections(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    found = _ask(bob, {"question": "What did the board approve under codeword BOARD-CANARY-17?"})
    assert all(s["collection"] in ("handbook", "projects") for s in found["sources"]["sources"])
    assert "BOARD-CANARY" not in str(found["sources"]["sources"])
    assert "BOARD-CANARY" not in found["done"]["answer"] + str(found["done"]["citations"])
    conv = found["done"]["conversation_id"]
    assert bob.get(f"/api/v1/conversations/{conv}").get_json()["collections"] is None


def test_conversations_rename_delete_and_permalinks_are_the_owners_only(world) -> None:  # type: ignore[no-untyped-def]
    admin, bob, carol = world
    conv = _ask(bob, {"question": "What is the daily meal allowance?",
                      "collection": "handbook"})["done"]["conversation_id"]
    url = f"/api/v1/conversations/{conv}"
    # someone else (the admin included): 404 for reading, renaming, deleting, the page
    for other in (carol, admin):
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"title": "mine now"}).status_code == 404
        assert other.delete(url).status_code == 404
        assert other.get(f"/conversations/{conv}").status_code == 404
        assert other.post(f"/conversations/{conv}/rename", data={"title": "x"}).status_code == 404
        assert other.post(f"/conversations/{conv}/delete").status_code == 404
    assert bob.patch(url, json={"title": "   "}).status_code == 422

    renamed = bob.patch(url, json={"title": "  Meals on trips  "})
    assert renamed.status_code == 200 and renamed.get_json()["title"] == "Meals on trips"
    page = bob.get(f"/conversations/{conv}")
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    assert doc.xpath('string(//h1[@id="conversation-title"])') == "Meals on trips"
    assert "What is the daily meal allowance?" in doc.xpath('string(//ol[@id="turns"])')
    assert doc.xpath('//a[@id="continue-conversation"]/@href') == [f"/?conversation={conv}"]
    listing = bob.get("/conversations/")
    assert f"/conversations/{conv}" in listing.get_data(as_text=True)
    assert bob.post(f"/conversations/{conv}/rename",
                    data={"title": "Meal allowance"}).status_code == 302
    assert bob.get(url).get_json()["title"] == "Meal allowance"

    assert bob.delete(url).status_code == 204
    assert bob.get(url).status_code == 404
    assert bob.get(f"/conversations/{conv}").status_code == 404
    assert conv not in [c["id"] for c in bob.get("/api/v1/conversations").get_json()[
        "conversations"]]
    assert _ask(bob, {"question": "and abroad?", "conversation_id": conv}, 404)
    # the answers stay as evidence for the audit
    evidence = admin.get("/api/v1/admin/evidence").get_json()
    assert any(r["conversation_id"] == conv for r in evidence)


# -- the search page ------------------------------------------------------------------------
def test_search_page_marks_matches_and_escapes_passages(world) -> None:  # type: ignore[no-untyped-def]
    admin, bob, _ = world
    _upload(admin, "handbook", "markup-notes.txt", HOSTILE_TXT)
    resp = bob.get("/search", query_string={"q": "meal allowances MARKUP-CANARY-55",
                                            "collection": "handbook"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    doc = lxml.html.fromstring(html)
    results = doc.xpath('//ol[@id="results"]/li')
    assert results
    marked = {m.text_content().lower() for m in doc.xpath('//ol[@id="results"]//mark')}
    assert {"meal", "allowance"} <= marked  # "allowances" marks "allowance" (same stem)
    assert "<script>window.__x" not in html and "&lt;script&gt;window.__x=1&lt;/script&gt;" in html
    assert not doc.xpath('//ol[@id="results"]//script | //ol[@id="results"]//b')
    first = results[0]
    assert first.xpath('.//a[@class="open-source"]/@href')[0].startswith("/sources/")
    assert "score" in first.text_content()
    assert doc.xpath('//select[@id="collection"]/option[@selected]/@value') == ["handbook"]


def test_search_page_scope_selector(world) -> None:  # type: ignore[no-untyped-def]
    _, bob, _ = world
    several = bob.get("/search", query_string=[("q", QUERY), ("collection", "+"),
                                               ("collections", "handbook"),
                                               ("collections", "projects")])
    assert several.status_code == 200
    doc = lxml.html.fromstring(several.get_data(as_text=True))
    assert {c.strip() for c in doc.xpath('//span[@class="result-collection"]/text()')} == {
        "handbook", "projects"}
    assert sorted(doc.xpath('//fieldset[@id="scope-several"]//input[@checked]/@value')) == [
        "handbook", "projects"]
    assert doc.xpath('//fieldset[@id="scope-several"]/@hidden') == []
    everything = bob.get("/search", query_string={"q": "BOARD-CANARY-17 board", "collection": "*"})
    assert everything.status_code == 200 and "BOARD-CANARY" not in everything.get_data(
        as_text=True).split('id="results"')[1]
    hidden = bob.get("/search", query_string={"q": QUERY, "collection": "board"})
    assert hidden.status_code == 404
    assert "no collection named" in hidden.get_data(as_text=True)
    assert bob.get("/search").status_code == 200  # the empty page: a form, no results
    # the scope selector offers what bob reads, several, and all
    options = lxml.html.fromstring(bob.get("/").get_data(as_text=True)).xpath(
        '//select[@id="collection"]/option/@value')
    assert options == ["handbook", "projects", "+", "*"]
