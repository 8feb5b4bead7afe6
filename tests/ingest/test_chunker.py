"""Chunker: structure, offsets and the no-truncation rule."""

from __future__ import annotations

import pytest

from config.settings import ChunkingSettings
from ingest.chunker import TokenChunker, embed_text_for
from ingest.types import Block, ParsedDocument


class FakeWordEmbedder:
    """Counts whitespace words as tokens (+2 special tokens); no model, no tokenizer."""

    max_tokens = 64
    dimension = 4

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


def _doc(*blocks: Block) -> ParsedDocument:
    return ParsedDocument(blocks=list(blocks))


def _check_offsets(doc: ParsedDocument, chunks) -> None:  # type: ignore[no-untyped-def]
    text = doc.text
    for c in chunks:
        assert text[c.char_start : c.char_end] == c.text


def test_heading_paths_and_sections_unit() -> None:
    chunker = TokenChunker(ChunkingSettings(max_tokens=40, overlap_tokens=4), FakeWordEmbedder())
    doc = _doc(
        Block("Handbook", "title", depth=0),
        Block("Intro text here.", "text"),
        Block("Travel", "title", depth=1),
        Block("Meals are paid.", "text"),
        Block("Hotels", "title", depth=2),
        Block("Hotel cap applies.", "text"),
        Block("Leave", "title", depth=1),
        Block("Take 28 days.", "text"),
    )
    chunks = chunker.chunk(doc)
    _check_offsets(doc, chunks)
    paths = [c.heading_path for c in chunks]
    assert paths == [
        ("Handbook",),
        ("Handbook", "Travel"),
        ("Handbook", "Travel", "Hotels"),
        ("Handbook", "Leave"),
    ]
    assert chunks[1].text.startswith("Travel")  # the heading opens its section's chunk
    assert chunks[1].embed_text == embed_text_for(chunks[1].heading_path, chunks[1].text)


def test_chunks_never_span_pages_and_tables_stay_whole_unit() -> None:
    chunker = TokenChunker(ChunkingSettings(max_tokens=60, overlap_tokens=4), FakeWordEmbedder())
    doc = _doc(
        Block("one", "text", page=1),
        Block("two", "text", page=1),
        Block("three", "text", page=2),
        Block("a | b\n1 | 2", "table", page=2),
        Block("four", "text", page=2),
    )
    chunks = chunker.chunk(doc)
    _check_offsets(doc, chunks)
    assert [(c.page, c.kind) for c in chunks] == [(1, "text"), (2, "text"), (2, "table"), (2, "text")]
    assert chunks[2].text == "a | b\n1 | 2"


def test_a_document_of_headings_only_is_still_searchable_unit() -> None:
    chunker = TokenChunker(ChunkingSettings(max_tokens=40, overlap_tokens=4), FakeWordEmbedder())
    doc = _doc(Block("Quarterly review", "title", depth=0), Block("Agenda", "title", depth=1))
    chunks = chunker.chunk(doc)
    _check_offsets(doc, chunks)
    assert [c.text for c in chunks] == ["Quarterly review\n\nAgenda"]
    assert chunker.chunk(_doc(Block("  ", "text"))) == []  # nothing at all: still nothing


@pytest.mark.integration
def test_nothing_exceeds_the_model_window(stack) -> None:  # type: ignore[no-untyped-def]
    """SECURITY row 13: long paragraphs, a huge word, a big table, deep headings."""
    embedder = stack.embedder
    chunker = TokenChunker(ChunkingSettings(max_tokens=200, overlap_tokens=32), embedder)
    long_paragraph = " ".join(f"Sentence number {i} talks about policy item {i}." for i in range(400))
    giant_word = "x" * 60_000
    table = "\n".join(f"row {i} | value {i * 3} | note {i}" for i in range(300))
    doc = _doc(
        *(Block(f"Heading level {d} " + "word " * 30, "title", depth=d) for d in range(5)),
        Block(long_paragraph, "text", page=1),
        Block(giant_word, "text", page=1),
        Block(table, "table", page=2),
        Block("Tiny closing remark.", "text", page=2),
    )
    chunks = chunker.chunk(doc)
    _check_offsets(doc, chunks)
    assert chunks
    limit = min(200, embedder.max_tokens)
    for c in chunks:
        assert embedder.count_tokens(c.embed_text) <= limit, c.text[:80]
        assert c.token_count == embedder.count_tokens(c.embed_text)
    # all of the long text is covered (up to overlap), nothing dropped silently
    covered = "".join(c.text for c in chunks if c.kind == "text")
    assert "Sentence number 399" in covered
    assert sum(len(c.text) for c in chunks if c.text.startswith("x")) >= len(giant_word)
    assert any("row 299" in c.text for c in chunks if c.kind == "table")


def test_a_tiny_section_joins_the_next_one_unit() -> None:
    """min_tokens: a one-line SYNOPSIS is no chunk of its own; pages and tables still cut."""
    settings = ChunkingSettings(max_tokens=40, overlap_tokens=0, min_tokens=8)
    doc = _doc(
        Block("curl_easy_reset", "title", depth=0),
        Block("SYNOPSIS", "title", depth=1),
        Block("void curl_easy_reset(CURL *h);", "text", page=None),
        Block("DESCRIPTION", "title", depth=1),
        Block("Re-initializes all options previously set on a handle to the defaults.", "text"),
        Block("RETURN VALUE", "title", depth=1),
        Block("Nothing.", "text", page=None),
        Block("| a | b |\n|---|---|\n| 1 | 2 |", "table"),
    )
    chunks = TokenChunker(settings, FakeWordEmbedder()).chunk(doc)
    _check_offsets(doc, chunks)
    assert chunks[0].text.startswith("SYNOPSIS") and "Re-initializes" in chunks[0].text
    assert chunks[0].heading_path == ("curl_easy_reset",)  # the two sections' common path
    assert chunks[1].heading_path == ("curl_easy_reset", "RETURN VALUE")  # a table: no merge
    assert chunks[2].kind == "table"
    separate = TokenChunker(ChunkingSettings(max_tokens=40, overlap_tokens=0),
                            FakeWordEmbedder()).chunk(doc)
    assert [c.heading_path[-1] for c in separate][:3] == ["SYNOPSIS", "DESCRIPTION",
                                                          "RETURN VALUE"]
