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
        update={"passage_max_chars": 1200, "mode": "dense"})
    hits = stack.retriever.search("Which tape drive does step 20 use?", "c", 3)
    top = hits[0]
    assert top.match_start is not None and top.match_end is not None
    chunk_text = top.text[top.match_start:top.match_end]
    assert len(top.text) > len(chunk_text)  # grown beyond the matched chunk
    assert len(top.text) <= 1200
    whole = _document_text(stack, doc.document_id)
    assert whole[top.char_start:top.char_end] == top.text  # one contiguous span
    assert "Unrelated closing words" not in top.text  # never across a heading
    # passages of one document never overlap
    spans = sorted((h.char_start, h.char_end) for h in hits if h.document_id == doc.document_id)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))

    stack.retriever.settings = stack.retriever.settings.model_copy(update={"passage_max_chars": 0})
    plain = stack.retriever.search("Which tape drive does step 20 use?", "c", 3)
    assert plain[0].match_start is None
    from db.models import Chunk

    with stack.sessions() as s:
        assert plain[0].text == s.get(Chunk, plain[0].chunk_id).text
