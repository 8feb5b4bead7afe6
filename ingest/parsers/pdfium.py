"""PDF text and structure with PDFium (``pypdfium2``): fast, with headings from font sizes.

The ``fast`` path of ``unstructured`` (pdfminer) spends most of an ingest in layout analysis
and still guesses headings from the words alone. PDFium reads a text layer many times faster,
and it knows each character's font size and weight, which is how a reader sees headings:

- the body size is the size most characters have; a short line set clearly larger than the
  body, or a little larger in a bold face (man pages' section names), is a heading, its depth
  given by its size rank (the largest is depth 0); table-of-contents lines are not; a heading
  that wraps onto a second line (same size and face, one line height below) is one heading,
  so its second line never replaces it in the heading path;
- a line that repeats at the top or bottom of most pages (running headers and footers, page
  numbers) is dropped;
- text a reader cannot see (invisible render mode, white or transparent fill, under 1.5 pt,
  off the page: :mod:`ingest.parsers.pdf_hidden`) is dropped before anything else, so hidden
  instructions never reach the index;
- consecutive body lines form one text block until a heading or the end of the page (the
  chunker cuts it at sentence ends; splitting at paragraph gaps cost MRR on the zsh tune half);
- a ruled table (a grid of drawn rules, or horizontal rules only as booktabs and report
  templates draw them, with columns at blank bands every line respects), and, more
  conservatively, a table drawn with no rules whose columns whitespace alone aligns
  (:mod:`ingest.parsers.pdf_tables`) is one Markdown table block, read cell by cell, in place
  of its flattened lines.

A page without visible text that shows an image or a drawing (a scan) is rendered by PDFium
and read with Tesseract when OCR is available (:mod:`ingest.parsers.ocr`): its paragraphs are
text blocks with the page number and their OCR confidence. Pages with a text layer are never
OCRed, so in a mixed PDF only the scanned pages are. A PDF with scanned pages and no text
at all, where OCR cannot run, is refused with the reason (the setting, the package to
install); one with some text keeps it and logs the pages it could not read.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.parsers.guards import too_many_pages
from ingest.parsers.pdf_hidden import hidden_objects, hidden_reasons
from ingest.parsers.pdf_tables import RuledTable, ruled_tables
from ingest.types import Block, IngestError, ParsedDocument

if TYPE_CHECKING:
    from ingest.parsers.ocr import Ocr

HEADING_RATIO = 1.12  # at least this much larger than the body size
BOLD_HEADING_RATIO = 1.04  # ...or this much, in a bold face
HEADING_MAX_CHARS = 160
_DIGITS = re.compile(r"\d+")
_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$")  # "Introduction . . . . . 12"
_BOLD = ("bold", "black", "heavy", "semibold", "demi")
MAX_RENDER_PIXELS = 40_000_000  # a scanned page larger than this at the OCR resolution is
# rendered at a lower one (A4 at 300 dpi is 8.7 million pixels)
_DRAWN = (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH)
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Line:
    page: int
    text: str
    size: float
    bold: bool
    first: bool  # first non-empty line of its page
    last: bool
    y: float = 0.0  # bottom of its first character (PDF units, up from the page's bottom)
    x: float = 0.0  # left of its first character
    table: bool = False  # the line is a ruled table's Markdown text (pdf_tables)


def _page_lines(document: pdfium.PdfDocument, page_index: int
                ) -> tuple[list[_Line], collections.Counter[str]]:
    """The page's lines (visible characters only) and the hidden characters by reason."""
    page = document[page_index]
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        hidden = hidden_objects(page)
        reasons = hidden_reasons(textpage, len(text), hidden) if hidden else None
        visible = None if reasons is None else [why is None for why in reasons]
        dropped: collections.Counter[str] = collections.Counter(
            why for why, ch in zip(reasons or (), text, strict=False)
            if why is not None and not ch.isspace())
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
            x, y = _origin(textpage, first_char)
            lines.append(_Line(page_index + 1, line, round(size, 1),
                               _is_bold(textpage, first_char), False, False, y, x))
        if visible is None:  # tables are read by position: not where text is hidden
            lines = _with_tables(lines, ruled_tables(page, textpage), page_index + 1)
    finally:
        textpage.close()
        page.close()
    filled = [ln for ln in lines if ln.text]
    if filled:
        filled[0].first = True
        filled[-1].last = True
    return lines, dropped


def _origin(textpage: pdfium.PdfTextPage, index: int) -> tuple[float, float]:
    """Left and bottom of a character's box."""
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    pdfium_c.FPDFText_GetCharBox(textpage.raw, index, ctypes.byref(left), ctypes.byref(right),
                                 ctypes.byref(bottom), ctypes.byref(top))
    return left.value, bottom.value


def _with_tables(lines: list[_Line], tables: list[RuledTable], page: int) -> list[_Line]:
    """``lines`` with the lines inside each ruled table replaced by the table, where it began."""
    if not tables:
        return lines
    out: list[_Line] = []
    placed: set[int] = set()
    for ln in lines:
        inside = next((i for i, t in enumerate(tables) if ln.text and t.holds(ln.x, ln.y)), None)
        if inside is None:
            out.append(ln)
        elif inside not in placed:
            placed.add(inside)
            out.append(_Line(page, tables[inside].markdown, ln.size, False, False, False,
                             ln.y, ln.x, table=True))
    return out


def _continues_heading(previous: _Line | None, line: _Line) -> bool:
    """``line`` is the wrapped second line of the heading ``previous`` (one line height below)."""
    return (previous is not None and previous.page == line.page and previous.size == line.size
            and previous.bold == line.bold and 0 < previous.y - line.y <= 1.6 * line.size
            and len(previous.text) + len(line.text) < HEADING_MAX_CHARS)


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


def _needs_ocr(document: pdfium.PdfDocument, page_index: int) -> bool:
    """Whether a page without visible text shows something OCR could read (an image, a drawing)."""
    page = document[page_index]
    try:
        return any(obj.type in _DRAWN for obj in page.get_objects(max_depth=4))
    finally:
        page.close()


def _ocr_page(document: pdfium.PdfDocument, page_index: int, ocr: Ocr) -> list[Block]:
    """A page rendered at the OCR resolution (less for huge pages) and read with Tesseract."""
    from ingest.parsers.ocr import RENDER_DPI

    page = document[page_index]
    try:
        width, height = page.get_size()  # PDF units (1/72 inch)
        scale = RENDER_DPI / 72
        if width * height * scale * scale > MAX_RENDER_PIXELS:
            scale = math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
    finally:
        page.close()
    return ocr.read(image, page_index + 1, dpi=round(scale * 72)).blocks


def parse_pdf(path: Path, max_pages: int | None = None, ocr: Ocr | None = None) -> ParsedDocument:
    """Blocks of a PDF's text layer: headings (with depth), body text and page numbers.

    Pages without a text layer are read with ``ocr`` when it is given and available.
    """
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise IngestError(f"could not open this PDF file: {exc}") from exc
    try:
        pages = len(document)
        if max_pages is not None and pages > max_pages:
            raise too_many_pages(pages, max_pages)
        lines: list[_Line] = []
        hidden: collections.Counter[str] = collections.Counter()
        ocr_pages = 0
        ocr_blocks: list[Block] = []
        unread: list[int] = []  # scanned pages OCR could not read (it is off or missing)
        for i in range(pages):
            page_lines, dropped = _page_lines(document, i)
            lines.extend(page_lines)
            hidden.update(dropped)
            if any(ln.text for ln in page_lines) or not _needs_ocr(document, i):
                continue
            if ocr is not None and ocr.available:
                ocr_blocks.extend(_ocr_page(document, i, ocr))
                ocr_pages += 1
            else:
                unread.append(i + 1)
    finally:
        document.close()
    hidden_chars = sum(hidden.values())
    if hidden_chars:
        log.info("%s: dropped %d characters a reader cannot see", path.name, hidden_chars)
    if unread:
        reason = ocr.reason if ocr is not None else "OCR is off (ingest.ocr)"
        if not any(ln.text for ln in lines) and not ocr_blocks:
            raise IngestError(f"this PDF has no text layer (a scanned document?): reading it "
                              f"needs OCR, but {reason}")
        log.warning("%s: %d scanned page(s) not read (%s): %s", path.name, len(unread), reason,
                    unread[:20])
    blocks = _text_layer_blocks(lines, pages)
    if ocr_blocks:  # OCRed pages have no text-layer blocks: merge in page order (stable sort)
        blocks = sorted(blocks + ocr_blocks, key=lambda b: b.page or 0)
    return ParsedDocument(blocks=blocks, num_pages=pages, hidden_chars=hidden_chars,
                          hidden_by_reason=dict(hidden), ocr_pages=ocr_pages,
                          unread_pages=len(unread))


def _text_layer_blocks(lines: list[_Line], pages: int) -> list[Block]:
    """Headings and text blocks from the text layer's lines (running headers dropped)."""
    running = _running_lines(lines, pages)
    sizes: collections.Counter[float] = collections.Counter()
    for ln in lines:
        if ln.text:
            sizes[ln.size] += len(ln.text)
    if not sizes:
        return []
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

    heading: _Line | None = None  # the heading line just read (None after any other line)
    for ln in lines:
        if not ln.text:
            flush()
            heading = None
            continue
        if ln.table:
            flush()
            blocks.append(Block(text=ln.text, kind="table", page=ln.page))
            heading = None
            continue
        if (ln.first or ln.last) and _DIGITS.sub("#", ln.text) in running:
            continue
        if _is_heading(ln, body):
            flush()
            if _continues_heading(heading, ln):
                blocks[-1] = replace(blocks[-1], text=f"{blocks[-1].text} {ln.text}")
            else:
                blocks.append(Block(text=ln.text, kind="title", page=ln.page,
                                    depth=depth_of.get(ln.size, 0)))
            heading = ln
            continue
        heading = None
        if paragraph and ln.page != paragraph_page:
            flush()
        if not paragraph:
            paragraph_page = ln.page
        paragraph.append(ln.text)
    flush()
    return blocks


def _is_heading(line: _Line, body: float) -> bool:
    text = line.text
    if len(text) > HEADING_MAX_CHARS or sum(c.isalpha() for c in text) < 2:
        return False
    if _LEADER.search(text) or (text.endswith((".", ",", ";")) and len(text) > 60):
        return False
    return line.size >= body * HEADING_RATIO or (line.bold and line.size >= body * BOLD_HEADING_RATIO)
