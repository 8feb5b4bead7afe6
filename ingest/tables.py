"""Tables as Markdown text: rows and header cells kept, readable by people and models.

Parsers turn a table (unstructured's ``text_as_html`` for DOCX, XLSX, HTML, Markdown and PPTX;
column-aligned lines in a PDF) into a GitHub-flavoured Markdown table whose first row is the
header. The chunker keeps a table in one chunk where it fits and otherwise splits it by rows,
repeating the header (:func:`split_markdown_table`).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_SEPARATOR_ROW = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
MAX_COLSPAN = 50  # a cell spanning more columns is counted as this many


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(rows: list[list[str]]) -> str:
    """``rows`` (the first is the header) as a Markdown table; ragged rows are padded."""
    rows = [[_cell(c) for c in row] for row in rows if any(c.strip() for c in row)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def html_table_rows(html: str) -> list[list[str]]:
    """The rows of the first table in ``html`` (cells' text; a colspan repeats as empty cells)."""
    from lxml import html as lxml_html

    root = lxml_html.fromstring(html)
    rows: list[list[str]] = []
    for tr in root.iter("tr"):
        cells: list[str] = []
        for cell in tr:
            if cell.tag not in ("td", "th"):
                continue
            cells.append(cell.text_content())
            try:
                span = min(MAX_COLSPAN, max(1, int(cell.get("colspan", "1"))))
            except ValueError:
                span = 1
            cells.extend([""] * (span - 1))
        rows.append(cells)
    return rows


def html_to_markdown(html: str) -> str | None:
    """A table's HTML as a Markdown table (first row as header); None if it has no cells."""
    try:
        text = markdown_table(html_table_rows(html))
    except Exception:  # noqa: BLE001 - malformed HTML: the caller falls back to plain text
        log.debug("could not read table HTML", exc_info=True)
        return None
    return text or None


def split_markdown_table(text: str) -> tuple[str, list[str]] | None:
    """``(header lines, body rows)`` of a Markdown table, or None if ``text`` is not one."""
    lines = text.split("\n")
    if len(lines) < 2 or not lines[0].lstrip().startswith("|") or not _SEPARATOR_ROW.match(
            lines[1]) or "-" not in lines[1]:
        return None
    return "\n".join(lines[:2]), lines[2:]
