"""PDF text and structure with PDFium (``pypdfium2``): fast, with headings from font sizes.

The ``fast`` path of ``unstructured`` (pdfminer) spends most of an ingest in layout analysis
and still guesses headings from the words alone. PDFium reads a text layer many times faster,
and it knows each character's font size and weight, which is how a reader sees headings:

- the body size is the size most characters have; a short line set clearly larger than the
  body, or a little larger in a bold face (man pages' section names), is a heading, its depth
  given by its size rank (the largest is depth 0); table-of-contents lines are not;
- a line that repeats at the top or bottom of most pages (running headers and footers, page
  numbers) is dropped;
- text a reader cannot see (invisible render mode, white or transparent fill, under 1.5 pt,
  off the page: :mod:`ingest.parsers.pdf_hidden`) is dropped before anything else, so hidden
  instructions never reach the index;
- consecutive body lines form one text block until a heading or the end of the page (the
  chunker cuts it at sentence ends; splitting at paragraph gaps cost MRR on the zsh tune half).

Pages without a text layer yield nothing (a scanned page needs OCR).
"""

from __future__ import annotations

import collections
import ctypes
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.parsers.guards import too_many_pages
from ingest.parsers.pdf_hidden import hidden_objects, visible_mask
from ingest.types import Block, IngestError, ParsedDocument

HEADING_RATIO = 1.12  # at least this much larger than the body size
BOLD_HEADING_RATIO = 1.04  # ...or this much, in a bold face
HEADING_MAX_CHARS = 160
_DIGITS = re.compile(r"\d+")
_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$")  # "Introduction . . . . . 12"
_BOLD = ("bold", "black", "heavy", "semibold", "demi")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Line:
    page: int
    text: str
    size: float
    bold: bool
    first: bool  # first non-empty line of its page
    last: bool


def _page_lines(document: pdfium.PdfDocument, page_index: int) -> tuple[list[_Line], int]:
    """The page's lines (visible characters only) and how many characters were hidden."""
    page = document[page_index]
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        hidden = hidden_objects(page)
        visible = visible_mask(textpage, len(text), hidden) if hidden else None
        dropped = 0 if visible is None else sum(
            1 for i, ch in enumerate(text) if not visible[i] and not ch.isspace())
        lines: list[_Line] = []
        offset = 0
        for raw in re.split(r"\r\n|\n|\r", text):
            start = offset
            offset += len(raw) + (2 if text[start + len(raw):start + len(raw) + 2] == "\r\n"
                                  else 1)
            if visible is None:  # the usual case: every character is visible
                line = " ".join(raw.split())
                first_char = start + (len(raw) - len(raw.lstrip()))
            else:
                kept = [i for i in range(start, start + len(raw)) if visible[i]]
                line = " ".join("".join(text[i] for i in kept).split())
                first_char = next((i for i in kept if not text[i].isspace()), start)
            if not line:
                lines.append(_Line(page_index + 1, "", 0.0, False, False, False))
                continue
            size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first_char))
            lines.append(_Line(page_index + 1, line, round(size, 1),
                               _is_bold(textpage, first_char), False, False))
    finally:
        textpage.close()
        page.close()
    filled = [ln for ln in lines if ln.text]
    if filled:
        filled[0].first = True
        filled[-1].last = True
    return lines, dropped


def _is_bold(textpage: pdfium.PdfTextPage, index: int) -> bool:
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, name, len(name), ctypes.byref(flags))
    lowered = name.value.decode("latin-1").lower()
    return any(word in lowered for word in _BOLD)


def _running_lines(lines: list[_Line], pages: int) -> set[str]:
    """Texts (digits ignored) that start or end most pages: running headers and footers."""
    if pages < 3:
        return set()
    edges = collections.Counter(_DIGITS.sub("#", ln.text) for ln in lines if ln.first or ln.last)
    return {text for text, n in edges.items() if n >= max(3, pages // 2)}


def parse_pdf(path: Path, max_pages: int | None = None) -> ParsedDocument:
    """Blocks of a PDF's text layer: headings (with depth), body text and page numbers."""
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise IngestError(f"could not open this PDF file: {exc}") from exc
    try:
        pages = len(document)
        if max_pages is not None and pages > max_pages:
            raise too_many_pages(pages, max_pages)
        lines: list[_Line] = []
        hidden = 0
        for i in range(pages):
            page_lines, dropped = _page_lines(document, i)
            lines.extend(page_lines)
            hidden += dropped
    finally:
        document.close()
    if hidden:
        log.info("%s: dropped %d characters a reader cannot see", path.name, hidden)
    running = _running_lines(lines, pages)
    sizes: collections.Counter[float] = collections.Counter()
    for ln in lines:
        if ln.text:
            sizes[ln.size] += len(ln.text)
    if not sizes:
        return ParsedDocument(blocks=[], num_pages=pages)
    body = sizes.most_common(1)[0][0]
    heading_sizes = sorted({ln.size for ln in lines if ln.text and _is_heading(ln, body)},
                           reverse=True)
    depth_of = {size: i for i, size in enumerate(heading_sizes)}

    blocks: list[Block] = []
    paragraph: list[str] = []
    paragraph_page = 0

    def flush() -> None:
        if paragraph:
            blocks.append(Block(text=" ".join(paragraph), kind="text", page=paragraph_page))
            paragraph.clear()

    for ln in lines:
        if not ln.text:
            flush()
            continue
        if (ln.first or ln.last) and _DIGITS.sub("#", ln.text) in running:
            continue
        if _is_heading(ln, body):
            flush()
            blocks.append(Block(text=ln.text, kind="title", page=ln.page,
                                depth=depth_of.get(ln.size, 0)))
            continue
        if paragraph and ln.page != paragraph_page:
            flush()
        if not paragraph:
            paragraph_page = ln.page
        paragraph.append(ln.text)
    flush()
    return ParsedDocument(blocks=blocks, num_pages=pages)


def _is_heading(line: _Line, body: float) -> bool:
    text = line.text
    if len(text) > HEADING_MAX_CHARS or sum(c.isalpha() for c in text) < 2:
        return False
    if _LEADER.search(text) or (text.endswith((".", ",", ";")) and len(text) > 60):
        return False
    return line.size >= body * HEADING_RATIO or (line.bold and line.size >= body * BOLD_HEADING_RATIO)
