"""Ingest pipeline with the real bundled embedding model: dedup, replace, delete, bad input."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from db.models import Chunk, Collection, Document

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]


def _state(stack, collection: str = "c") -> tuple[list[tuple], list[int]]:  # type: ignore[no-untyped-def]
    """(catalog rows, FAISS ids) of a collection, for before/after comparisons."""
    with stack.sessions() as s:
        coll = s.scalar(select(Collection).where(Collection.name == collection))
        rows = s.execute(
            select(Document.name, Document.version, Document.status, Document.content_hash,
                   Chunk.id, Chunk.text)
            .join(Chunk, Chunk.document_id == Document.id, isouter=True)
            .where(Document.collection_id == coll.id)
            .order_by(Document.name, Chunk.id)
        ).all()
    ids = sorted(stack.index.ids(coll.id).tolist())
    return [tuple(r) for r in rows], ids


def _assert_consistent(stack, ingestor) -> None:  # type: ignore[no-untyped-def]
    assert ingestor.check() == []


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_same_file_twice_is_not_duplicated(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = _write(tmp_path / "note.md", "# Cafeteria\n\nThe cafeteria opens at 8:00 every weekday.\n")
    first = ingestor.ingest_file(f, "c")
    second = ingestor.ingest_file(f, "c")
    assert first.status == "added" and first.chunks >= 1
    assert second.status == "unchanged" and second.document_id == first.document_id
    rows, ids = _state(stack)
    assert len({r[0] for r in rows}) == 1
    assert len(ids) == first.chunks
    _assert_consistent(stack, ingestor)


def test_changed_file_replaces_old_version(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = _write(tmp_path / "note.md", "# Cafeteria\n\nThe cafeteria opens at 8:00 every weekday.\n")
    v1 = ingestor.ingest_file(f, "c")
    _write(f, "# Cafeteria\n\nThe cafeteria opens at 9:30 every weekday.\n")
    v2 = ingestor.ingest_file(f, "c")
    assert v2.status == "replaced" and v2.version == 2 and v2.document_id == v1.document_id
    hits = stack.retriever.search("When does the cafeteria open?", "c", 5)
    assert hits and all("9:30" in h.text for h in hits)
    assert all(h.document_version == 2 for h in hits)
    rows, ids = _state(stack)
    assert not any("8:00" in (r[5] or "") for r in rows)
    assert len(ids) == v2.chunks
    _assert_consistent(stack, ingestor)


def test_replace_has_no_window_with_both_or_neither(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "hours.md"
    texts = [f"# Opening hours\n\nThe cafeteria opens at {h}:00 on weekdays.\n" for h in (7, 8)]
    _write(f, texts[0])
    ingestor.ingest_file(f, "c")
    _write(tmp_path / "other.md", "# Parking\n\nParking is free for staff in the garage.\n")
    ingestor.ingest_file(tmp_path / "other.md", "c")
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            hits = [h for h in stack.retriever.search("cafeteria opening hours", "c", 5)
                    if h.document == "hours.md"]
            if not hits:
                problems.append("neither version searchable")
            versions = {h.document_version for h in hits}
            seen = {t for t in ("7:00", "8:00") if any(t in h.text for h in hits)}
            if len(versions) > 1 or len(seen) > 1:
                problems.append(f"mixed versions {versions} {seen}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(6):
            _write(f, texts[(i + 1) % 2])
            assert ingestor.ingest_file(f, "c").status == "replaced"
    finally:
        stop.set()
        thread.join()
    assert problems == []
    _assert_consistent(stack, ingestor)


def test_delete_removes_chunks_and_vectors(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keep = ingestor.ingest_file(_write(tmp_path / "keep.md", "# Keep\n\nKeep this text.\n"), "c")
    gone = ingestor.ingest_file(
        _write(tmp_path / "gone.md", "# Gone\n\nThe secret code word is pelican.\n"), "c"
    )
    assert ingestor.delete_document("c", gone.document_id)
    assert not ingestor.delete_document("c", gone.document_id)  # already gone
    rows, ids = _state(stack)
    assert {r[0] for r in rows} == {"keep.md"}
    assert len(ids) == keep.chunks
    assert all("pelican" not in h.text for h in stack.retriever.search("secret code word", "c"))
    with stack.sessions() as s:
        assert s.scalar(select(func.count(Chunk.id))) == keep.chunks
    _assert_consistent(stack, ingestor)


def _zip_bomb_docx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * (24 * 2**20))
    return path


BAD_FILES = {
    "empty.txt": (b"", "the file is empty"),
    "broken.pdf": (b"this is not a pdf at all", "not a valid PDF"),
    "truncated.pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog", "could not parse this PDF"),
    "fake.docx": (b"plain text pretending to be a docx", "not a valid Word (DOCX) file"),
    "fake.xlsx": (b"PK\x03\x04garbage", "not a valid Excel (XLSX) file"),
    "program.exe": (b"MZ\x90\x00", "unsupported file type '.exe'"),
    "noext": (b"hello", "unsupported file type '(no extension)'"),
    "binary.txt": (bytes(range(256)) * 64 + b"\0" * 4096, "content is binary"),
    "binary.md": (bytes(range(1, 32)) * 300, "content is binary"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_fails_alone_with_a_reason(stack, ingestor, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    good = ingestor.ingest_file(_write(tmp_path / "good.md", "# Good\n\nGood content here.\n"), "c")
    before = _state(stack)
    content, reason = BAD_FILES[name]
    bad = tmp_path / name
    bad.write_bytes(content)
    result = ingestor.ingest_file(bad, "c")
    assert result.status == "failed"
    assert reason in (result.error or ""), result.error
    rows, ids = _state(stack)
    # the good document is untouched; the failure is recorded on its own row, without chunks
    assert [r for r in rows if r[0] == "good.md"] == [r for r in before[0] if r[0] == "good.md"]
    assert ids == before[1] and len(ids) == good.chunks
    failed = [r for r in rows if r[0] == name]
    assert failed and failed[0][2] == "failed" and failed[0][4] is None
    with stack.sessions() as s:
        doc = s.scalar(select(Document).where(Document.name == name))
        assert doc is not None and reason in (doc.error or "")
    _assert_consistent(stack, ingestor)


def test_zip_bomb_is_rejected_from_the_central_directory(ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = ingestor.ingest_file(_zip_bomb_docx(tmp_path / "bomb.docx"), "c")
    assert result.status == "failed"
    assert "compresses" in (result.error or "") and "limit" in (result.error or "")


def test_too_large_file_is_refused(ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "big.txt"
    big.write_text("word " * (3 * 2**20 // 5 + 10))  # > 2 MiB (test profile)
    result = ingestor.ingest_file(big, "c")
    assert result.status == "failed" and "ingest.max_file_mb" in (result.error or "")


def test_failed_update_keeps_the_working_version(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "policy.pdf"
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(f))
    c.drawString(72, 720, "The travel policy allows economy class only.")
    c.save()
    v1 = ingestor.ingest_file(f, "c")
    assert v1.status == "added"
    before = _state(stack)
    f.write_bytes(b"%PDF-1.4 broken update")
    v2 = ingestor.ingest_file(f, "c")
    assert v2.status == "failed" and "version 1 is kept unchanged" in (v2.error or "")
    assert _state(stack) == before
    hits = stack.retriever.search("travel policy class", "c")
    assert hits and hits[0].document == "policy.pdf" and hits[0].page == 1


def test_batch_goes_on_after_failures(ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "batch"
    folder.mkdir()
    _write(folder / "a.md", "# A\n\nAlpha text.\n")
    (folder / "b.pdf").write_bytes(b"garbage")
    (folder / "c.txt").write_bytes(b"")
    _write(folder / "d.txt", "Delta text that is fine.\n")
    from ingest.pipeline import expand_paths

    results = ingestor.ingest_paths(expand_paths([folder]), "c")
    assert [(r.name, r.status) for r in results] == [
        ("a.md", "added"), ("b.pdf", "failed"), ("c.txt", "failed"), ("d.txt", "added"),
    ]


def test_junk_encodings_ingest_or_fail_cleanly(ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = {
        "latin1.txt": "Caf\xe9 au lait costs 3 euros.".encode("latin-1"),
        "utf16.txt": "Meeting room booking rules apply.".encode("utf-16-le"),
        "invalid-utf8.txt": b"Valid start \xff\xfe\xfd invalid bytes then more text.",
        "nul.md": b"# Title\n\nText with \x00 a NUL byte inside.\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = ingestor.ingest_file(tmp_path / name, "c")
        assert result.status in ("added", "failed"), (name, result)
        if result.status == "failed":
            assert result.error and "internal error" not in result.error, (name, result.error)
    assert ingestor.check() == []


def test_check_repairs_a_diverged_index(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = ingestor.ingest_file(_write(tmp_path / "x.md", "# X\n\nSome text to index.\n"), "c")
    with stack.sessions() as s:
        coll_id = s.scalar(select(Collection.id).where(Collection.name == "c"))
    stack.index.remove(coll_id, np.array([result.document_id and stack.index.ids(coll_id)[0]]))
    stack.index.add(coll_id, np.array([999_999]), np.ones((1, stack.embedder.dimension), "float32"))
    stack.index.save(coll_id)
    problems = ingestor.check()
    assert any("without a catalog chunk" in p for p in problems)
    assert any("without a vector" in p for p in problems)
    ingestor.check(repair=True)
    assert ingestor.check() == []


@pytest.mark.parametrize("name, source", [
    ("setup.md", "# Setup\n\nInstall the handler like this:\n\n```python\n"
                 "def handle(event):\n    # retry the upload twice\n    return upload(event, retries=2)\n"
                 "```\n\nThen restart the service.\n"),
    ("setup.html", "<html><body><h1>Setup</h1><p>Install the handler like this:</p>"
                   "<pre>def handle(event):\n    # retry the upload twice\n"
                   "    return upload(event, retries=2)</pre><p>Then restart the service.</p>"
                   "</body></html>"),
])
def test_code_blocks_keep_their_lines(stack, ingestor, tmp_path: Path, name: str,
                                      source: str) -> None:
    """A code block is stored and returned as written: its lines, its indentation.

    Every other block's whitespace is collapsed; code collapsed to one line read
    ``def handle(event): # retry the upload twice return upload(...)`` on the ask page.
    """
    assert ingestor.ingest_file(_write(tmp_path / name, source), "c").status == "added"
    hits = stack.retriever.search("How many times does handle retry the upload?", "c", 3)
    assert hits
    assert ("def handle(event):\n    # retry the upload twice\n"
            "    return upload(event, retries=2)") in hits[0].text
    assert "Install the handler like this:" in hits[0].text  # prose stays as it was
