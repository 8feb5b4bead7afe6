"""A Word document's Title paragraph heads its heading paths (ingest.parsers.docx_outline)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.parsers.docx_outline import nest_under_title, title_texts
from ingest.parsers.unstructured import UnstructuredParser
from ingest.types import Block


def _manual(path: Path, *, title: bool = True) -> Path:
    from docx import Document

    doc = Document()
    if title:
        doc.add_heading("Widget 3000 - Bench power supply", 0)  # level 0: the Title style
    doc.add_heading("Installation", 1)
    doc.add_paragraph("Mount the unit on a dry wall, at least 30 cm above the floor.")
    doc.add_heading("Fuses", 2)
    doc.add_paragraph("Replace a blown fuse with a 2 A slow-blow fuse only.")
    doc.add_heading("Cleaning", 1)
    doc.add_paragraph("Wipe the case with a dry cloth; never use solvents.")
    doc.save(str(path))
    return path


def test_headings_sit_under_the_title_unit(tmp_path: Path) -> None:
    path = _manual(tmp_path / "widget.docx")
    assert title_texts(str(path)) == {"Widget 3000 - Bench power supply"}
    blocks = UnstructuredParser().parse(path, "docx").blocks
    assert [(b.text, b.depth) for b in blocks if b.kind == "title"] == [
        ("Widget 3000 - Bench power supply", 0), ("Installation", 1), ("Fuses", 2),
        ("Cleaning", 1)]


def test_without_a_title_depths_stay_as_unstructured_gives_them_unit(tmp_path: Path) -> None:
    path = _manual(tmp_path / "plain.docx", title=False)
    assert title_texts(str(path)) == frozenset()
    blocks = UnstructuredParser().parse(path, "docx").blocks
    assert [(b.text, b.depth) for b in blocks if b.kind == "title"] == [
        ("Installation", 0), ("Fuses", 1), ("Cleaning", 0)]


def test_a_binary_source_is_rewound_and_a_broken_one_is_ignored_unit(tmp_path: Path) -> None:
    data = io.BytesIO(_manual(tmp_path / "w.docx").read_bytes())
    assert title_texts(data) == {"Widget 3000 - Bench power supply"}
    assert data.tell() == 0  # unstructured reads the same file object next
    assert title_texts(io.BytesIO(b"PK\x03\x04 not a zip")) == frozenset()
    blocks = [Block("Intro", "title", depth=0), Block("text", "text")]
    assert nest_under_title(blocks, frozenset()) is blocks


@pytest.mark.integration
def test_a_section_chunk_names_its_document(stack, ingestor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The chunk under "Fuses" is embedded and shown as "Widget ... > Installation > Fuses"."""
    ingestor.ingest_file(_manual(tmp_path / "widget.docx"), "c")
    hits = stack.retriever.search("Which fuse does the Widget 3000 take?", "c")
    fuse = next(h for h in hits if "slow-blow" in h.text)
    assert fuse.heading_path.split(" > ") == [
        "Widget 3000 - Bench power supply", "Installation", "Fuses"]
