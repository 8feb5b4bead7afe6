"""Retrieval on a real PostgreSQL catalog: the keyword leg (full-text search), hybrid, access.

The same ingest and search code as on SQLite, with ``database_url`` pointing at a throw-away
database on the local server (tests/conftest.py ``pg_url``) and the real bundled embedder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ingest.stack import build_ingestor
from retrieval.acl import Principal, grant_collection, restrict_document
from retrieval.backends.postgres_fts import PostgresKeywordIndex, _idf
from retrieval.catalog import get_collection
from retrieval.evidence import stems
from retrieval.stack import RetrievalStack, build_retrieval
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_stack(pg_url: str, tmp_path: Path) -> Iterator[RetrievalStack]:
    stack = build_retrieval(make_settings(tmp_path / "data", database_url=pg_url))
    yield stack
    stack.close()


def _add(ingestor, tmp_path: Path, name: str, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return ingestor.ingest_file(path, "c")


def test_keyword_leg_runs_on_postgres_and_follows_the_catalog(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(pg_stack.keyword, PostgresKeywordIndex)
    ingestor = build_ingestor(pg_stack)
    for i in range(8):
        _add(ingestor, tmp_path, f"policy-{i}.md",
             f"# Policy {i}\n\nEmployees must follow procedure number {i} when travelling.\n")
    first = _add(ingestor, tmp_path, "code.md",
                 "# Codes\n\nThe error code XK4471 means the badge expired.\n")
    retriever = pg_stack.retriever
    for mode in ("keyword", "hybrid"):
        retriever.settings = retriever.settings.model_copy(update={"mode": mode})
        hits = retriever.search("what does XK4471 mean", "c", 3)
        assert hits[0].document == "code.md", mode
    retriever.settings = retriever.settings.model_copy(update={"mode": "keyword"})
    assert retriever.search("XK4471", "c")[0].keyword_score > 0
    _add(ingestor, tmp_path, "code.md", "# Codes\n\nThe badge desk is on the ground floor.\n")
    assert retriever.search("XK4471", "c") == []  # replaced in the same transaction
    ingestor.delete_document("c", first.document_id)
    assert retriever.search("badge desk", "c") == []
    assert ingestor.check() == []


def test_keyword_leg_weighs_rare_words_above_common_ones(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """BM25, not ts_rank_cd: a rare question word decides over a common one repeated."""
    ingestor = build_ingestor(pg_stack)
    for i in range(4):  # "tool" in 5 passages of 12: common, but weighed (IDF > 0)
        _add(ingestor, tmp_path, f"tool-{i}.md",
             f"# Tool {i}\n\nThe tool prints output. Run the tool again to print output {i}.\n")
    for i in range(6):
        _add(ingestor, tmp_path, f"policy-{i}.md",
             f"# Policy {i}\n\nEmployees must follow procedure number {i} when travelling.\n")
    _add(ingestor, tmp_path, "repeat.md",
         "# Tool\n\nTool, tool, tool: the tool runs the tool with the tool's output.\n")
    _add(ingestor, tmp_path, "redirect.md",
         "# Redirects\n\nThe program follows a redirect when asked to.\n")
    retriever = pg_stack.retriever
    retriever.settings = retriever.settings.model_copy(update={"mode": "keyword"})
    hits = retriever.search("Does the tool handle a redirect?", "c", 3)
    assert [h.document for h in hits][:2] == ["redirect.md", "repeat.md"]


def test_idf_survives_a_passage_count_older_than_the_lexeme_counts() -> None:
    """The passage count is cached for a minute, lexeme counts are fresh: a document added in
    between gave log() a negative argument and every search a 500 (tests/test_cluster.py)."""
    assert _idf(1, 12) > _idf(5, 12) > _idf(6, 12) == 1e-6
    assert _idf(5, 1) == 1e-6


def test_term_counts_find_porter_stems_and_count_stop_words_everywhere(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The abstention model's term counts: Porter stems (retrieval.evidence.stems) against
    PostgreSQL's Snowball lexemes. "releas" stemmed again is "relea"; "other" is one of
    PostgreSQL's stop words, never indexed. Either counted 0 made a question "name something
    the documents lack" and abstain."""
    ingestor = build_ingestor(pg_stack)
    _add(ingestor, tmp_path, "notes.md", "# Notes\n\nThe release notes list other changes.\n")
    _add(ingestor, tmp_path, "faq.md", "# FAQ\n\nAsk on the mailing list.\n")
    with pg_stack.sessions() as s:
        counts, total = pg_stack.keyword.term_counts(s, stems(["release", "other", "zyxwv"]))
    assert total == 2
    assert counts == {"releas": 1, "other": 2}  # "zyxwv": in no passage
    # A word in no passage is looked up again every time: a new document's words count at once
    # (found counts are reused for a minute).
    _add(ingestor, tmp_path, "new.md", "# New\n\nThe zyxwv appliance is in room 4.\n")
    with pg_stack.sessions() as s:
        assert pg_stack.keyword.term_counts(s, stems(["zyxwv"]))[0] == {"zyxwv": 1}


def test_abstention_looks_words_up_as_postgres_parsed_them(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Porter stem is often no Snowball lexeme ("key" -> "kei", "display" -> "displai",
    "status" -> "statu", "during" -> "dure"): counted 0, each read as a name the documents
    lack, and the question abstained (the zsh test half answered 0.84 on PostgreSQL). The
    question's words behind each stem are looked up as PostgreSQL parses them."""
    ingestor = build_ingestor(pg_stack)
    _add(ingestor, tmp_path, "keys.md", "# Keys\n\nThe status line shows which key was "
         "pressed during start-up; display it with F1.\n")
    _add(ingestor, tmp_path, "faq.md", "# FAQ\n\nAsk on the mailing list.\n")
    terms = {stems([w])[0]: [w] for w in ("key", "display", "status", "during", "zyxwv")}
    assert {"kei", "displai", "statu", "dure"} <= terms.keys()
    with pg_stack.sessions() as s:
        counts, total = pg_stack.keyword.term_counts(s, list(terms), terms)
    assert total == 2
    # "during" is one of PostgreSQL's stop words: in every passage; "zyxwv" in none
    assert counts == {"kei": 1, "displai": 1, "statu": 1, "dure": 2}
    with pg_stack.sessions() as s:
        # Remembered by what was looked up: "kei" alone is no indexed lexeme, whatever the
        # count of the word "key" a moment ago (one cache served both and answered 1)
        assert pg_stack.keyword.term_counts(s, ["kei"])[0] == {}
        assert pg_stack.keyword.term_counts(s, ["kei"], {"kei": ["key"]})[0] == {"kei": 1}
    question = "How do I display the key status during start-up?"
    evidence = pg_stack.retriever.assess(question, pg_stack.retriever.search(question, "c"))
    assert evidence.unknown_terms == () and not evidence.abstain
    named = "How do I display the key status in Zyxwv?"
    assert pg_stack.retriever.assess(named, pg_stack.retriever.search(named, "c")
                                     ).unknown_terms == ("zyxwv",)


def test_a_large_ingest_leaves_the_planner_statistics(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without statistics the planner picked a plan that loaded a search's candidates in 21 ms
    instead of 1 (curl set); an ingest of more rows than autovacuum's threshold analyzes."""
    ingestor = build_ingestor(pg_stack)
    body = "".join(f"## Part {i}\n\nStep {i} of the checklist: " + "inspect the valve "
                   * 8 + f"and sign sheet {i}.\n\n" for i in range(60))
    result = _add(ingestor, tmp_path, "checklist.md", "# Checklist\n\n" + body)
    assert result.chunks >= 55
    with pg_stack.sessions() as s:
        rows = s.execute(text("SELECT relname, reltuples FROM pg_class "
                              "WHERE relname IN ('chunks', 'documents')")).tuples().all()
    assert dict(rows)["chunks"] == result.chunks  # -1: never analyzed


def test_access_control_and_abstention_signals_on_postgres(pg_stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ingestor = build_ingestor(pg_stack)
    _add(ingestor, tmp_path, "open.md", "# Canteen\n\nThe canteen serves lunch from noon.\n")
    secret = _add(ingestor, tmp_path, "salaries.md",
                  "# Salaries\n\nThe canteen manager's salary band is S7.\n")
    with pg_stack.sessions() as db:
        coll = get_collection(db, "c")
        grant_collection(db, coll.id, "staff")
        restrict_document(db, secret.document_id, ["hr"])
        db.commit()
    retriever = pg_stack.retriever
    staff = Principal("sam", frozenset({"staff"}))
    hr = Principal("hana", frozenset({"staff", "hr"}))
    for mode in ("keyword", "hybrid"):
        retriever.settings = retriever.settings.model_copy(update={"mode": mode})
        seen = {h.document for h in retriever.search("canteen salary band", "c", 5,
                                                      principal=staff)}
        assert seen == {"open.md"}, mode
        assert "salaries.md" in {h.document for h in retriever.search(
            "canteen salary band", "c", 5, principal=hr)}
        assert retriever.search("canteen", "c", 5, principal=Principal("x", frozenset())) == []
    hits = retriever.search("When does the canteen serve lunch?", "c", 3, principal=staff)
    evidence = retriever.assess("When does the canteen serve lunch?", hits)
    assert evidence.unknown_terms == ()  # every word occurs in the PostgreSQL index
    off = retriever.assess("How do I calibrate the zeppelin altimeter?", hits)
    assert "zeppelin" in " ".join(off.unknown_terms) and off.abstain
