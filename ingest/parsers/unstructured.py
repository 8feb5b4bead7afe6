"""Parse files into structural blocks with ``unstructured`` (PDFs by the fast pdfminer path).

Each file type goes to its own partitioner; elements become :class:`Block` objects at this
edge. The cheap checks of :mod:`ingest.parsers.guards` run before any parser sees the bytes
(empty file, wrong magic bytes, PDFs with too many pages, zip containers that declare absurd
sizes or nest archives, XML with DOCTYPE/entity declarations), and every parser failure
becomes an :class:`IngestError` whose message a user can read. In production this runs inside
the sandbox worker (``ingest/parsers/sandbox.py``), which adds time, memory and output limits.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest import offline_nlp
from ingest.parsers.docx_hidden import clean_docx
from ingest.parsers.docx_outline import nest_under_title, title_texts
from ingest.parsers.guards import (
    IMAGE_TYPES,
    LABELS,
    check_html_declarations,
    check_magic,
    too_many_pages,
)
from ingest.parsers.html_hidden import clean_html
from ingest.parsers.ocr import PAGE_TIMEOUT_S, Ocr, ocr_image_file
from ingest.parsers.office_hidden import clean_pptx, clean_xlsx
from ingest.parsers.pdfium import parse_pdf
from ingest.tables import html_to_markdown
from ingest.types import Block, IngestError, ParsedDocument

log = logging.getLogger(__name__)

_SKIPPED_CATEGORIES = {"Header", "Footer", "PageBreak", "Image", "PageNumber"}
_TEXT_TYPES = {"html", "md", "txt", "eml"}

_import_lock = threading.Lock()


def _partitioner(file_type: str) -> Callable[[str], list[Any]]:
    """The partition function for a file type.

    It takes the decoded text for html/md/txt, else the file name.
    """
    # Import lazily: unstructured takes seconds to import and is only needed when parsing.
    with _import_lock:
        offline_nlp.install()
        match file_type:
            case "pdf":
                from unstructured.partition.pdf import partition_pdf

                return lambda f: partition_pdf(filename=f, strategy="fast", languages=["eng"])
            case "docx":
                from unstructured.partition.docx import partition_docx

                # A path, or the package with its hidden text removed (ingest.parsers.docx_hidden).
                return lambda f: (partition_docx(filename=f, languages=["eng"]) if isinstance(f, str)
                                  else partition_docx(file=f, languages=["eng"]))
            case "pptx":
                from unstructured.partition.pptx import partition_pptx

                # A path, or the package with its hidden text removed (office_hidden).
                return lambda f: (partition_pptx(filename=f, languages=["eng"])
                                  if isinstance(f, str)
                                  else partition_pptx(file=f, languages=["eng"]))
            case "xlsx":
                from unstructured.partition.xlsx import partition_xlsx

                return lambda f: (
                    partition_xlsx(filename=f, languages=["eng"], find_subtable=False)
                    if isinstance(f, str)
                    else partition_xlsx(file=f, languages=["eng"], find_subtable=False))
            case "html":
                from unstructured.partition.html import partition_html

                return lambda text: partition_html(text=text, languages=["eng"])
            case "md":
                from unstructured.partition.md import partition_md

                return lambda text: partition_md(text=text, languages=["eng"])
            case "txt":
                from unstructured.partition.text import partition_text

                return lambda text: partition_text(text=text, languages=["eng"])
            case "eml":
                from unstructured.partition.email import partition_email

                return lambda f: partition_email(
                    filename=f, languages=["eng"], process_attachments=False
                )
    raise IngestError(f"unsupported file type {file_type!r}")


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode_text(data: bytes) -> str:
    """Decode a text file's bytes: BOMs, UTF-16 without BOM, UTF-8, then detection.

    Raises :class:`IngestError` for content that is not text.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif encoding := _utf16_without_bom(data):
        text = data.decode(encoding, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data[: 2**20]).best()
            if best is None or best.encoding is None:
                raise IngestError("not a text file: the content is binary") from None
            text = data.decode(best.encoding, errors="replace")
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and controls > 0.05 * len(sample):
        raise IngestError("not a text file: the content is binary")
    return text.replace("\x00", " ")


def read_text(path: str) -> str:
    """A text file's content, decoded by :func:`decode_text`."""
    with open(path, "rb") as fh:
        return decode_text(fh.read())


def _table_text(element: Any) -> str:
    """A table as Markdown (header row first, :mod:`ingest.tables`), else unstructured's text."""
    html = getattr(element.metadata, "text_as_html", None)
    if html:
        markdown = html_to_markdown(html)
        if markdown:
            return markdown
    return element.text


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split())


def _clean_code(text: str) -> str:
    """A code block's text with its lines kept (the ask page shows passages as written).

    Trailing spaces go, and runs of blank lines become one; tokenizers read a line break as
    any other space, so chunks, vectors and keyword terms are the same as for one line.
    """
    lines = [line.rstrip() for line in text.replace("\x00", " ").expandtabs(4).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def elements_to_blocks(elements: list[Any]) -> list[Block]:
    """Convert unstructured elements to blocks (headers, footers and images dropped)."""
    blocks: list[Block] = []
    for el in elements:
        category = getattr(el, "category", "")
        if category in _SKIPPED_CATEGORIES:
            continue
        page = getattr(el.metadata, "page_number", None)
        if category == "Table":
            text = _table_text(el).replace("\x00", " ").strip()
            kind = "table"
        else:
            text = (_clean_code if category == "CodeSnippet" else _clean)(el.text or "")
            kind = "title" if category == "Title" else "text"
        if not text:
            continue
        depth = getattr(el.metadata, "category_depth", None) if kind == "title" else None
        blocks.append(Block(text=text, kind=kind, page=page, depth=depth))
    return blocks


#: Partitioners loaded before the sandbox worker is ready: the text formats.
_FIRST_TYPES = ("md", "html", "txt")


class UnstructuredParser:
    """:class:`ingest.types.Parser` backed by ``unstructured``.

    ``max_pages`` refuses longer PDFs up front; ``max_text_chars`` refuses html/md/txt files
    whose decoded text is longer (before unstructured builds elements from it). ``ocr``
    (``auto``/``off``), ``ocr_languages`` and ``ocr_page_timeout_s`` are ``ingest.ocr``,
    ``ingest.ocr_languages`` and ``ingest.ocr_page_timeout_s``: images, and PDFs without a
    text layer, are read with Tesseract (:mod:`ingest.parsers.ocr`).
    """

    _own_types: frozenset[str] = frozenset()  # types a subclass parses without unstructured

    def __init__(self, max_pages: int | None = None, max_text_chars: int | None = None,
                 ocr: str = "auto", ocr_languages: str = "eng",
                 ocr_page_timeout_s: float = PAGE_TIMEOUT_S) -> None:
        self.max_pages = max_pages
        self.max_text_chars = max_text_chars
        self.ocr = Ocr(ocr, ocr_languages, page_timeout_s=ocr_page_timeout_s)

    def warm_up(self) -> None:
        """Import the text formats' partitioners (unstructured's core) and run a tiny one.

        The sandbox worker does this once before it says it is ready, so no file's time
        limit pays for these imports; :meth:`warm_up_rest` imports the others.
        """
        for file_type in _FIRST_TYPES:
            _partitioner(file_type)
        _partitioner("txt")("Warm-up sentence for the parser. It describes nothing.")

    def warm_up_rest(self) -> None:
        """Import every other partitioner: office formats, e-mail.

        The sandbox worker does this in the background once it is ready: xlsx alone, with
        pandas, took 0.6 s of the start of a Markdown batch.
        """
        for file_type in LABELS:
            if file_type not in IMAGE_TYPES and file_type not in self._own_types:
                _partitioner(file_type)  # images go to OCR, not unstructured

    def parse(self, path: Path, file_type: str) -> ParsedDocument:
        """Parse ``path``; raise :class:`IngestError` with a readable reason if unusable."""
        if file_type not in LABELS:
            raise IngestError(f"unsupported file type {file_type!r}")
        label = LABELS[file_type]
        try:
            size = path.stat().st_size
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError as exc:
            raise IngestError(f"cannot read the file: {exc.strerror or exc}") from exc
        if size == 0:
            raise IngestError("the file is empty")
        check_magic(path, file_type, head, self.max_pages)
        if file_type in IMAGE_TYPES:
            with parser_errors(label):
                parsed = ocr_image_file(path, file_type, self.ocr, self.max_pages)
        else:
            parsed = self._extract(path, file_type, label)
        if not parsed.blocks:
            hint = " (not even with OCR)" if file_type in IMAGE_TYPES or (
                file_type == "pdf" and self.ocr.available) else ""
            raise IngestError(f"no text could be extracted from this {label} file{hint}")
        pages = parsed.num_pages or 0
        if file_type == "pdf" and self.max_pages is not None and pages > self.max_pages:
            raise too_many_pages(pages, self.max_pages)
        return parsed

    def _extract(self, path: Path, file_type: str, label: str) -> ParsedDocument:
        """The blocks of a file that passed the pre-checks (unstructured's partitioners)."""
        source: Any = str(path)
        if file_type in _TEXT_TYPES and file_type != "eml":
            source = self._read_text(path, file_type)
        with parser_errors(label):
            source, read_as, hidden = without_hidden_text(path, file_type, source)
        partition = _partitioner(read_as)
        titles = title_texts(source) if read_as == "docx" else frozenset()
        with parser_errors(label):
            elements = partition(source)
        blocks = nest_under_title(elements_to_blocks(elements), titles)
        hidden_chars = sum(hidden.values())
        if hidden_chars:
            log.info("%s: dropped %d characters a reader cannot see (%s)", path.name,
                     hidden_chars, ", ".join(f"{k} {v}" for k, v in sorted(hidden.items())))
        if not blocks and file_type == "pdf":
            # No text layer at all (a scan): PDFium renders the pages, Tesseract reads them.
            with parser_errors(label):
                return parse_pdf(path, self.max_pages, self.ocr)
        pages = [b.page for b in blocks if b.page is not None]
        return ParsedDocument(blocks=blocks, num_pages=max(pages) if pages else None,
                              hidden_chars=hidden_chars, hidden_by_reason=hidden)

    def _read_text(self, path: Path, file_type: str) -> str:
        try:
            text = read_text(str(path))
        except OSError as exc:
            raise IngestError(f"cannot read the file: {exc.strerror or exc}") from exc
        if self.max_text_chars is not None and file_type != "html" and (
            len(text) > self.max_text_chars
        ):
            raise IngestError(output_limit_reason(self.max_text_chars))
        if file_type == "html":
            check_html_declarations(text)
        return text


def without_hidden_text(path: Path, file_type: str, source: Any
                        ) -> tuple[Any, str, dict[str, int]]:
    """``(source, file type to read it as, characters removed by reason)`` for a file.

    Text a reader cannot see is removed from HTML (:mod:`ingest.parsers.html_hidden`), from
    the HTML a Markdown file renders to (its inline ``<span style=...>``; read as that HTML
    then, as unstructured does), from DOCX packages (:mod:`ingest.parsers.docx_hidden`) and
    from PPTX and XLSX packages (:mod:`ingest.parsers.office_hidden`: hidden slides, shapes,
    sheets, rows and columns, text in its background's colour or of 1 pt or less, cells
    formatted ``;;;``). Other types, and a file with nothing hidden, come back as they
    came, except that Markdown already rendered to look for hidden text comes back as that
    HTML (what unstructured's ``partition_md`` would render again and partition).
    """
    if file_type == "html":
        cleaned, removed = clean_html(source)
        return cleaned, "html", removed
    if file_type == "md" and "<" in source:
        import markdown
        from unstructured.partition.md import _DEFAULT_MARKDOWN_EXTENSIONS

        # Rendered once: what partition_md would render again and hand to partition_html.
        rendered = markdown.markdown(source, extensions=_DEFAULT_MARKDOWN_EXTENSIONS)
        cleaned, removed = clean_html(rendered)
        return (cleaned, "html", removed) if removed else (rendered, "html", {})
    cleaners = {"docx": clean_docx, "pptx": clean_pptx, "xlsx": clean_xlsx}
    if file_type in cleaners:
        package, removed = cleaners[file_type](path)
        if package is not None:
            return io.BytesIO(package), file_type, removed
    return source, file_type, {}


@contextmanager
def parser_errors(label: str) -> Iterator[None]:
    """Turn whatever a parser raises into an :class:`IngestError` a person can read."""
    try:
        yield
    except IngestError:
        raise
    except MemoryError as exc:
        raise IngestError(f"the {label} file is too large to parse in memory") from exc
    except Exception as exc:  # noqa: BLE001 - parsers raise anything; we report it
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise IngestError(f"could not parse this {label} file: {reason}") from exc


def output_limit_reason(limit_bytes: float) -> str:
    """The reason given when a file's extracted text is over ``ingest.sandbox.max_output_mb``."""
    return f"extracted text exceeds {limit_bytes / 2**20:g} MiB (ingest.sandbox.max_output_mb)"


class FastPdfParser(UnstructuredParser):
    """PDFs through PDFium (:mod:`ingest.parsers.pdfium`), every other type through unstructured.

    The same pre-checks and limits as :class:`UnstructuredParser`; ``ingest.pdf_parser``
    chooses it (``pdfium``, the default).
    """

    # unstructured's PDF partitioner is never used here: not imported by warm_up (1.5 s of
    # the sandbox worker's start and ~100 MiB: pdfminer, unstructured_inference, matplotlib).
    _own_types = frozenset({"pdf"})

    def _extract(self, path: Path, file_type: str, label: str) -> ParsedDocument:
        """PDFs by their text layer and font sizes; the rest as :class:`UnstructuredParser`."""
        if file_type != "pdf":
            return super()._extract(path, file_type, label)
        with parser_errors(label):
            return parse_pdf(path, self.max_pages, self.ocr)
