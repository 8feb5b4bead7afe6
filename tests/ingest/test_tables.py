"""Tables kept as tables: Markdown rows and header cells, whole where they fit, split by rows
with the header repeated where they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ChunkingSettings
from ingest.chunker import TokenChunker
from ingest.tables import html_to_markdown, markdown_table, split_markdown_table
from ingest.types import Block, ParsedDocument
from tests.ingest.test_chunker import FakeWordEmbedder


def test_html_table_becomes_markdown_with_its_header_unit() -> None:
    html = ("<table><thead><tr><th>Country</th><th>Rate</th></tr></thead><tbody>"
            "<tr><td>France</td><td>EUR 55</td></tr><tr><td colspan='2'>a | b</td></tr>"
            "<tr><td> </td><td></td></tr></tbody></table>")
    assert html_to_markdown(html) == ("| Country | Rate |\n|---|---|\n| France | EUR 55 |\n"
                                      "| a \\| b |  |")
    assert html_to_markdown("<table></table>") is None
    assert markdown_table([["a"], ["1", "2"]]) == "| a |  |\n|---|---|\n| 1 | 2 |"
    assert split_markdown_table("| a |\n|---|\n| 1 |") == ("| a |\n|---|", ["| 1 |"])
    assert split_markdown_table("a | b\n1 | 2") is None  # not Markdown: split as text


def _table(rows: int) -> str:
    return markdown_table([["Country", "Daily rate", "Hotel cap"]]
                          + [[f"Country {i}", f"EUR {i}", f"EUR {100 + i}"] for i in range(rows)])


def test_a_table_that_fits_is_one_chunk_of_kind_table_unit() -> None:
    chunker = TokenChunker(ChunkingSettings(max_tokens=64, overlap_tokens=0), FakeWordEmbedder())
    table = _table(4)
    doc = ParsedDocument([Block("Rates", "title", depth=0), Block("Intro.", "text"),
                          Block(table, "table"), Block("After.", "text")])
    chunks = chunker.chunk(doc)
    assert [c.kind for c in chunks] == ["text", "table", "text"]
    assert chunks[1].text == table and chunks[1].heading_path == ("Rates",)
    assert chunker.prepare(doc) is doc  # nothing split


def test_a_large_table_is_split_by_rows_with_the_header_repeated_unit() -> None:
    chunker = TokenChunker(ChunkingSettings(max_tokens=64, overlap_tokens=0), FakeWordEmbedder())
    table = _table(40)
    doc = ParsedDocument([Block("Rates", "title", depth=0), Block(table, "table", page=3)])
    chunks = chunker.chunk(doc)
    assert len(chunks) > 3 and all(c.kind == "table" and c.page == 3 for c in chunks)
    header = "| Country | Daily rate | Hotel cap |\n|---|---|---|\n"
    rows = []
    for c in chunks:
        assert c.text.startswith(header) and c.token_count <= 64
        rows += c.text[len(header):].split("\n")
    assert rows == table.split("\n")[2:]  # every row once, in order, none cut
    prepared = chunker.prepare(doc).text  # the offsets refer to the parts
    assert all(prepared[c.char_start:c.char_end] == c.text for c in chunks)


@pytest.mark.integration
def test_docx_xlsx_and_html_tables_are_markdown_blocks(tmp_path: Path) -> None:
    import docx
    import openpyxl

    from ingest.parsers.unstructured import UnstructuredParser

    document = docx.Document()
    document.add_paragraph("Rates by country.")
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Country", (0, 1): "Rate", (1, 0): "Japan",
                         (1, 1): "EUR 70"}.items():
        table.cell(r, c).text = text
    document.save(str(tmp_path / "t.docx"))
    book = openpyxl.Workbook()
    book.active.append(["Country", "Rate"])
    book.active.append(["Japan", "EUR 70"])
    book.save(str(tmp_path / "t.xlsx"))
    (tmp_path / "t.html").write_text(
        "<html><body><p>Rates by country.</p><table><tr><th>Country</th><th>Rate</th></tr>"
        "<tr><td>Japan</td><td>EUR 70</td></tr></table></body></html>")
    parser = UnstructuredParser()
    for name in ("t.docx", "t.xlsx", "t.html"):
        blocks = parser.parse(tmp_path / name, name.split(".")[1]).blocks
        tables = [b.text for b in blocks if b.kind == "table"]
        assert tables == ["| Country | Rate |\n|---|---|\n| Japan | EUR 70 |"], (name, blocks)
