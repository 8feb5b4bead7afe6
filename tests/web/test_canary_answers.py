"""Canary test through the web app (SECURITY.md row 1, answer side).

One collection, two groups. Every chunk of a group's documents carries that document's canary.
Each user asks 50 questions through ``/api/v1/ask``, many quoting the other group's canaries
verbatim: no foreign chunk id may be retrieved or cited, and no foreign canary may appear in
the answer, its sources, citations, sentences or an error. Most questions run in extractive
mode (no LLM, fast); a few per user also go through the real bundled LLM, streamed (the model
may echo a canary the user typed, so there only the canaries not in the question count).
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from tests.conftest import USER_PASSWORD, _client_class, login, make_settings, make_user
from tests.web.conftest import parse_sse

pytestmark = pytest.mark.integration

GROUPS = ("red", "blue")
TOPICS = ("salary bands", "merger plan", "incident report")


@pytest.fixture(scope="module")
def canary_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from db.models import Chunk, Document
    from ingest.stack import build_ingestor
    from retrieval.acl import grant_collection, restrict_document
    from retrieval.catalog import get_collection
    from retrieval.stack import build_retrieval
    from web import create_app, start

    data = tmp_path_factory.mktemp("canary") / "data"
    src = tmp_path_factory.mktemp("canary_docs")
    canaries: dict[str, list[str]] = {g: [] for g in GROUPS}
    files = []
    for group in GROUPS:
        for topic in TOPICS:
            canary = f"CANARY-{group}-{secrets.token_hex(5)}"
            canaries[group].append(canary)
            path = src / f"{group}-{topic.replace(' ', '-')}.md"
            path.write_text(
                f"# {topic.title()} {canary}\n\nReference {canary}. The {topic} of the {group} "
                f"team is confidential and decided by the board. Marker {canary}.\n\n"
                f"## Details\n\nMore about the {topic}: numbers, dates and owners. {canary}.\n",
                encoding="utf-8")
            files.append((path, path.name, group))
    stack = build_retrieval(make_settings(data))
    results = build_ingestor(stack).ingest_paths([(p, n) for p, n, _ in files], "shared")
    assert all(r.status == "added" for r in results)
    with stack.sessions() as db:
        coll = get_collection(db, "shared").id
        for group in GROUPS:
            grant_collection(db, coll, group, "read")
        for r, (_, _, group) in zip(results, files, strict=True):
            restrict_document(db, r.document_id, [group])
        db.commit()
        chunks = {g: set() for g in GROUPS}
        for _path, name, group in files:
            doc_id = db.scalar(select(Document.id).where(Document.name == name))
            chunks[group] |= set(db.scalars(select(Chunk.id).where(Chunk.document_id == doc_id)))
    stack.close()
    app = start(create_app(make_settings(data, generation={"mode": "extractive"})))
    app.config["TESTING"] = True
    app.test_client_class = _client_class()
    for group in GROUPS:
        make_user(app, f"{group}-user", "reader", (group,))
    yield app, canaries, chunks
    app.extensions["enclave"].close()


def _questions(own: list[str], foreign: list[str]) -> list[str]:
    qs = [f"What does {c} say?" for c in foreign]
    qs += [c for c in foreign]
    qs += [f"Reference {c}. Marker {c}." for c in foreign]
    qs += [f"What is the {t}?" for t in TOPICS]
    qs += [f"Tell me about the {t} of the {g} team" for t in TOPICS for g in GROUPS]
    qs += [f"Quote the document {c}" for c in own]
    i = 0
    while len(qs) < 50:
        qs.append(f"{TOPICS[i % 3]} {foreign[i % len(foreign)]} confidential board {i}")
        i += 1
    return qs[:50]


def _check(body: dict, foreign_canaries: list[str], foreign_chunks: set[int]) -> list[str]:
    problems = []
    body = dict(body)
    body.pop("question", None)  # the user typed it
    text = str(body)
    problems += [f"canary {c} leaked" for c in foreign_canaries if c in text]
    ids = {s["chunk_id"] for s in body.get("sources", [])}
    ids |= {c["chunk_id"] for c in body.get("citations", [])}
    problems += [f"foreign chunk {i}" for i in ids & foreign_chunks]
    return problems


def test_no_foreign_canary_in_answers_citations_or_errors(canary_world) -> None:  # type: ignore[no-untyped-def]
    app, canaries, chunks = canary_world
    problems: list[str] = []
    asked = 0
    for group in GROUPS:
        other = next(g for g in GROUPS if g != group)
        client = app.test_client()
        assert login(client, f"{group}-user", USER_PASSWORD).status_code == 302
        for q in _questions(canaries[group], canaries[other]):
            resp = client.post("/api/v1/ask", json={"question": q, "collection": "shared"})
            assert resp.status_code == 200, resp.get_data(as_text=True)
            problems += [f"{group}: {q!r}: {p}" for p in _check(resp.get_json(), canaries[other],
                                                              chunks[other])]
            asked += 1
        # Errors must not carry foreign content either.
        for bad in ({"question": canaries[other][0], "collection": "nope"},
                    {"question": "", "collection": "shared"}):
            err = client.post("/api/v1/ask", json=bad).get_data(as_text=True)
            problems += [f"{group}: error leaked" for c in canaries[other][1:] if c in err]
        # Own documents are found (the filter is not simply returning nothing).
        own = client.post("/api/v1/search", json={"query": canaries[group][0], "collection": "shared"})
        assert own.get_json()["hits"][0]["chunk_id"] in chunks[group]
    assert asked == 100
    assert not problems, "\n".join(problems[:20])


def test_streamed_llm_answers_leak_nothing(canary_world) -> None:  # type: ignore[no-untyped-def]
    app, canaries, chunks = canary_world
    settings = app.extensions["enclave"].settings
    settings.generation.mode = "generative"  # the real bundled LLM writes these answers
    try:
        for group in GROUPS:
            other = next(g for g in GROUPS if g != group)
            client = app.test_client()
            login(client, f"{group}-user", USER_PASSWORD)
            for q in (f"What does {canaries[other][0]} say about the salary bands?",
                      f"Repeat every reference code you know, including {canaries[other][1]}."):
                resp = client.post("/api/v1/ask", json={"question": q, "collection": "shared",
                                                        "stream": True})
                events = parse_sse(resp.get_data(as_text=True))
                streamed = "".join(d.get("text", "") for name, d in events if name == "token")
                done = next(d for name, d in events if name == "done")
                # The model may repeat what the user typed; any other foreign canary in its
                # output could only have come from a foreign passage.
                untyped = [c for c in canaries[other] if c not in q]
                assert not [c for c in untyped if c in streamed]
                assert not _check(done, untyped, chunks[other])
    finally:
        settings.generation.mode = "extractive"

