"""Keyword index in step with the catalog, hybrid modes, filters, dedup, rerank, neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from retrieval.backends.sqlite_fts import fts_query
from retrieval.keyword_terms import phrase_words, query_phrases
from retrieval.retriever import SearchFilter

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]


def test_fts_query_keeps_content_words_only() -> None:
    assert fts_query("What is the hotel cap per night?") == '"hotel" OR "cap" OR "per" OR "night"'
    assert fts_query("the of and") == ""
    assert '"' not in fts_query('quote " inject').replace('"quote"', "").replace(
        '"inject"', "").replace(" OR ", "")


def test_code_identifiers_and_hyphenated_names_become_phrases() -> None:
    question = "Why is ca-bundle.crt, CURLOPT_WRITEDATA or H.263-RTP not updated on delete/rename?"
    # "/" is a choice between words, not one name
    assert query_phrases(question) == ["ca-bundle.crt", "curlopt_writedata", "h.263-rtp"]
    assert [phrase_words(p) for p in query_phrases(question)] == [
        ["ca", "bundle", "crt"], ["curlopt", "writedata"], ["h", "263", "rtp"]]
    assert query_phrases("What is the hotel cap per night?") == []
    assert fts_query("Where is ca-bundle.crt?") == '"ca" OR "bundle" OR "crt" OR "ca bundle crt"'


def test_identifier_phrase_ranks_the_passage_naming_it_first(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """retrieval.keyword_phrases: "ca-bundle.crt" asked, the passage naming it is found and,
    on SQLite, ranks above one that uses its words more often, apart."""
    for i in range(12):
        _add(ingestor, tmp_path, f"policy-{i}.md",
             f"# Policy {i}\n\nEmployees must follow procedure number {i} when travelling.\n")
    _add(ingestor, tmp_path, "words.md",
         "# Certificates\n\nA CA signs certificates. Keep the bundle of CA certificates in a crt "
         "file; every bundle is one crt file.\n")
    _add(ingestor, tmp_path, "name.md",
         "# Release files\n\nThe release ships ca-bundle.crt next to the program.\n")
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": "keyword"})
    assert stack.retriever.settings.keyword_phrases is True

    def phrases_off() -> None:
        stack.retriever.settings = stack.retriever.settings.model_copy(
            update={"keyword_phrases": False})

    def found() -> list[str]:
        return [h.document for h in stack.retriever.search("Where is ca-bundle.crt?", "c", 2)]

    if stack.engine.dialect.name == "postgresql":
        # PostgreSQL's parser indexes "ca-bundle.crt" as one lexeme: word by word, the
        # passage naming it is not found at all; the identifier parsed whole finds it. (Its
        # one lexeme scores below the other passage's three words, each twice: rank 2.)
        assert found() == ["words.md", "name.md"]
        phrases_off()
        assert found() == ["words.md"]
    else:
        assert found() == ["name.md", "words.md"]
        phrases_off()
        assert found() == ["words.md", "name.md"]  # each word on its own: repeating them wins


def _add(ingestor, tmp_path: Path, name: str, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return ingestor.ingest_file(path, "c")


def _fts_count(stack, word: str = "zebrafish") -> int:  # type: ignore[no-untyped-def]
    """Chunks the catalog's own full-text index finds for ``word`` (FTS5 or tsvector)."""
    with stack.sessions() as s:
        if stack.engine.dialect.name == "postgresql":
            sql = text("SELECT count(*) FROM chunks "
                       "WHERE search_vector @@ plainto_tsquery('english', :w)")
        else:
            sql = text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :w")
        return int(s.execute(sql, {"w": word}).scalar())


def test_keyword_index_follows_add_replace_delete(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = _add(ingestor, tmp_path, "lab.md", "# Lab\n\nThe zebrafish tank is cleaned on Mondays.\n")
    assert _fts_count(stack) == 1
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": "keyword"})
    hits = stack.retriever.search("zebrafish tank", "c")
    assert hits and hits[0].document == "lab.md" and hits[0].keyword_score > 0
    _add(ingestor, tmp_path, "lab.md", "# Lab\n\nThe aquarium is cleaned on Fridays.\n")
    assert _fts_count(stack) == 0
    assert stack.retriever.search("zebrafish", "c") == []
    ingestor.delete_document("c", r.document_id)
    assert _fts_count(stack, "aquarium") == 0


def test_hybrid_finds_rare_exact_terms(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for i in range(12):
        _add(ingestor, tmp_path, f"policy-{i}.md",
             f"# Policy {i}\n\nEmployees must follow procedure number {i} when travelling.\n")
    _add(ingestor, tmp_path, "code.md", "# Codes\n\nThe error code XK-4471 means the badge expired.\n")
    for mode in ("keyword", "hybrid"):
        stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": mode})
        hits = stack.retriever.search("XK-4471", "c", 3)
        assert hits[0].document == "code.md", mode
        assert -1 <= hits[0].score <= 1  # cosine reported whatever ranked it


def test_heading_words_weigh_less_than_a_chunks_own_text(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """retrieval.keyword_heading_weight: every chunk under a heading shares its words."""
    # The chunk's text starts with its own heading ("Husbandry"); the outer one is path only.
    _add(ingestor, tmp_path, "husbandry.md", "# Zebrafish\n\n## Husbandry\n\nThe tanks are cleaned weekly.\n")
    _add(ingestor, tmp_path, "notes.md",
         "# Lab notes\n\nWe feed the zebrafish twice a day and note it in the log book.\n")
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": "keyword"})
    assert stack.retriever.settings.keyword_heading_weight == 0.1

    def scores() -> dict[str, float]:
        return {h.document: h.keyword_score for h in stack.retriever.search("zebrafish", "c", 2)}

    low = scores()
    assert list(low) == ["notes.md", "husbandry.md"]  # the word in its own text first
    stack.retriever.settings = stack.retriever.settings.model_copy(
        update={"keyword_heading_weight": 1.0})
    high = scores()
    assert high["husbandry.md"] > low["husbandry.md"]
    if stack.engine.dialect.name == "sqlite":  # BM25: the short heading column then wins
        assert list(high) == ["husbandry.md", "notes.md"]


def test_filters_apply_inside_the_search(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SECURITY row 3 in small: one allowed document among many is still found at rank 1."""
    target = None
    for i in range(60):
        r = _add(ingestor, tmp_path, f"memo-{i:02d}.md",
                 f"# Memo {i}\n\nThe quarterly budget review meeting number {i} is in room {i}.\n")
        if i == 37:
            target = r
    (tmp_path / "notes.txt").write_text("The quarterly budget review is postponed.\n")
    txt = ingestor.ingest_file(tmp_path / "notes.txt", "c")
    for mode in ("dense", "keyword", "hybrid"):
        stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": mode})
        only = stack.retriever.search("quarterly budget review meeting", "c", 5,
                                      SearchFilter(document_ids=(target.document_id,)))
        assert [h.document for h in only] == ["memo-37.md"], mode
        by_type = stack.retriever.search("quarterly budget review", "c", 5,
                                         SearchFilter(file_types=("txt",)))
        assert [h.document_id for h in by_type] == [txt.document_id], mode
        assert stack.retriever.search("budget", "c", 5, SearchFilter(document_ids=())) == []


def test_near_duplicates_are_dropped_and_neighbours_attached(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    same = "# Notice\n\nThe fire drill takes place on the first Tuesday of each month.\n"
    _add(ingestor, tmp_path, "a.md", same)
    _add(ingestor, tmp_path, "b.md", same)
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": "dense"})
    hits = stack.retriever.search("When is the fire drill?", "c", 5)
    assert [h.document for h in hits].count("a.md") + [h.document for h in hits].count("b.md") == 1
    stack.retriever.settings = stack.retriever.settings.model_copy(
        update={"dedup_threshold": 1.0})
    assert len(stack.retriever.search("When is the fire drill?", "c", 5)) == 2

    long_doc = "\n\n".join(f"## Part {i}\n\n" + f"Paragraph {i} talks about topic {i}. " * 30
                           for i in range(4))
    _add(ingestor, tmp_path, "long.md", "# Long\n\n" + long_doc)
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"neighbours": 1})
    hit = next(h for h in stack.retriever.search("Paragraph 2 talks about topic 2", "c", 3)
               if h.document == "long.md")
    assert "Paragraph 1" in hit.context_before or "Paragraph 3" in hit.context_after


class FakeReverseReranker:
    """Scores passages by reverse alphabetical order: makes any reordering visible."""

    def score(self, query: str, passages: list[str]) -> list[float]:
        order = sorted(range(len(passages)), key=lambda i: passages[i])
        return [float(order.index(i)) for i in range(len(passages))]


def test_reranker_stage_reorders(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name, body in {"a.md": "Apples are red fruit.", "z.md": "Zucchini is a green fruit."}.items():
        _add(ingestor, tmp_path, name, f"# Fruit\n\n{body}\n")
    stack.retriever._reranker = FakeReverseReranker()  # noqa: SLF001
    hits = stack.retriever.search("fruit", "c", 2)
    assert hits[0].rerank_score is not None and hits[0].rerank_score > hits[1].rerank_score
    assert hits[0].text > hits[1].text


def test_cross_encoder_loads_from_a_local_directory(tmp_path: Path) -> None:
    """The real loading path of CrossEncoderReranker, on a local model directory made from the
    bundled MiniLM (its classifier head is untrained, so only the plumbing is checked)."""
    from sentence_transformers import CrossEncoder

    from retrieval.backends.cross_encoder import CrossEncoderReranker
    from retrieval.backends.sentence_transformers import bundled_embedding_model_path

    CrossEncoder(bundled_embedding_model_path(), num_labels=1, local_files_only=True).save(
        str(tmp_path / "ce"))
    scores = CrossEncoderReranker(str(tmp_path / "ce")).score("q", ["one passage", "another"])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    with pytest.raises(RuntimeError, match="not found"):
        CrossEncoderReranker(str(tmp_path / "missing")).score("q", ["x"])


def test_dedup_keeps_the_first_of_near_identical_rows() -> None:
    from retrieval.retriever import _dedup

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((60, 16)).astype(np.float32)
    vectors[[12, 40]] = vectors[3] + 0.01  # near copies of row 3, later in the ranking
    vectors[50] = vectors[12]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    keep = _dedup(vectors, 0.98)
    assert 3 in keep and not {12, 40, 50} & set(keep)
    assert keep == [i for i in range(60) if i not in (12, 40, 50)]
    assert _dedup(vectors, 1.0) == list(range(60))
