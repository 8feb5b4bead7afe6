"""Small-to-big: chunks are matched, passages returned (retrieval.passage_max_chars)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.integration

SECTION = "\n\n".join(f"Step {i} of the backup routine copies volume {i} to tape drive {i}."
                      for i in range(1, 40))


def _document_text(stack, document_id: int) -> str:  # type: ignore[no-untyped-def]
    """The document's text rebuilt from its chunks' offsets (what passages must be a span of)."""
    from db.models import Chunk

    with stack.sessions() as s:
        rows = s.execute(select(Chunk.char_start, Chunk.text).where(
            Chunk.document_id == document_id).order_by(Chunk.ordinal)).all()
    out: list[str] = []
    for start, text in rows:
        out.extend(["\n"] * max(0, start - len(out)))  # block separators between chunks
        out[start:start + len(text)] = list(text)
    return "".join(out)


def test_passages_grow_around_the_matched_chunk(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "backup.md"
    path.write_text(f"# Backups\n\n{SECTION}\n\n# Other\n\nUnrelated closing words.\n")
    doc = ingestor.ingest_file(path, "c")
    stack.retriever.settings = stack.retriever.settings.model_copy(
        update={"passage_max_chars": 1200, "mode": "dense", "passage_scope": "section"})
    hits = stack.retriever.search("Which tape drive does step 20 use?", "c", 3)
    top = hits[0]
    assert top.match_start is not None and top.match_end is not None
    chunk_text = top.text[top.match_start:top.match_end]
    assert len(top.text) > len(chunk_text)  # grown beyond the matched chunk
    assert len(top.text) <= 1200
    whole = _document_text(stack, doc.document_id)
    assert whole[top.char_start:top.char_end] == top.text  # one contiguous span
    assert "Unrelated closing words" not in top.text  # scope "section": never across a heading
    # passages of one document never overlap
    spans = sorted((h.char_start, h.char_end) for h in hits if h.document_id == doc.document_id)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))

    stack.retriever.settings = stack.retriever.settings.model_copy(update={"passage_max_chars": 0})
    plain = stack.retriever.search("Which tape drive does step 20 use?", "c", 3)
    assert plain[0].match_start is None
    from db.models import Chunk

    with stack.sessions() as s:
        assert plain[0].text == s.get(Chunk, plain[0].chunk_id).text


MAN_PAGE = """# frobnicate

## NAME

frobnicate - polish widgets until they shine

## SYNOPSIS

frobnicate [--gloss LEVEL] FILE

## DESCRIPTION

frobnicate polishes every widget listed in FILE. The gloss level sets how many minutes
each widget is buffed; the default is three minutes.

## EXIT STATUS

Zero when every widget shines, one when a widget stays dull.
"""


def test_a_short_document_comes_back_once_and_whole(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """passage_scope "page": growth goes on into the neighbouring sections (no pages here)."""
    (tmp_path / "frobnicate.md").write_text(MAN_PAGE, encoding="utf-8")
    (tmp_path / "other.md").write_text("# Widgets\n\nA widget is a small part of a machine.\n",
                                       encoding="utf-8")
    for name in ("frobnicate.md", "other.md"):
        ingestor.ingest_file(tmp_path / name, "c")
    question = "How many minutes does frobnicate buff a widget, and when does it exit with one?"
    settings = stack.retriever.settings.model_copy(update={"mode": "dense"})

    stack.retriever.settings = settings.model_copy(update={"passage_scope": "section"})
    apart = [h for h in stack.retriever.search(question, "c", 5) if h.document == "frobnicate.md"]
    assert len(apart) > 1  # one passage per matched section
    assert all("EXIT STATUS" not in h.text for h in apart if "buffed" in h.text)

    stack.retriever.settings = settings.model_copy(update={"passage_scope": "page"})
    hits = stack.retriever.search(question, "c", 5)
    mine = [h for h in hits if h.document == "frobnicate.md"]
    assert len(mine) == 1  # the other matched sections are inside it
    top = mine[0]
    for part in ("polish widgets", "--gloss LEVEL", "buffed", "stays dull"):
        assert part in top.text
    assert top.text[top.match_start:top.match_end] in top.text  # the match is still marked
    # cited by the section of its best match
    assert top.heading_path.split(" > ")[-1] in {"DESCRIPTION", "EXIT STATUS"}


def _row(ordinal: int, start: int, text: str, section: str, page: int | None):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return SimpleNamespace(char_start=start, char_end=start + len(text), text=text,
                           heading_path=section, page=page)


def test_growth_fills_its_own_section_first_and_never_leaves_the_page() -> None:
    from retrieval.passages import _grow

    layout = [("A", 1), ("A", 1), ("B", 1), ("B", 1), ("B", 1), ("C", 1), ("C", 2)]
    chunks, start = {}, 0
    for ordinal, (section, page) in enumerate(layout):
        chunks[ordinal] = _row(ordinal, start, "x" * 100, section, page)
        start += 102  # a block separator between chunks
    me = chunks[3]
    assert _grow(chunks, me, 3, 10_000, "section") == (2, 4)
    assert _grow(chunks, me, 3, 10_000, "page") == (0, 5)  # ordinal 6 is on page 2
    # Room for one chunk more than the section: it goes to the section's own chunks first.
    assert _grow(chunks, me, 3, 400, "page") == (1, 4)
    assert _grow(chunks, me, 3, 250, "page") == (2, 3)
    assert _grow(chunks, me, 3, 0, "page") == (3, 3)
