"""Parse files into structural blocks with ``unstructured`` (PDFs by the fast pdfminer path).

Each file type goes to its own partitioner; elements become :class:`Block` objects at this
edge. Cheap checks run before any parser sees the bytes (empty file, wrong magic bytes,
zip containers that declare absurd sizes), and every parser failure becomes an
:class:`IngestError` whose message a user can read.
"""

from __future__ import annotations

import logging
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest import offline_nlp
from ingest.types import Block, IngestError, ParsedDocument

log = logging.getLogger(__name__)

FILE_TYPES = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".eml": "eml",
}
_LABELS = {
    "pdf": "PDF", "docx": "Word (DOCX)", "pptx": "PowerPoint (PPTX)", "xlsx": "Excel (XLSX)",
    "html": "HTML", "md": "Markdown", "txt": "text", "eml": "e-mail (EML)",
}
_OOXML_MAIN_PART = {"docx": "word/", "pptx": "ppt/", "xlsx": "xl/"}
_SKIPPED_CATEGORIES = {"Header", "Footer", "PageBreak", "Image", "PageNumber"}
_TEXT_TYPES = {"html", "md", "txt", "eml"}

# Limits for zip containers (DOCX/PPTX/XLSX), checked from the central directory.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_UNCOMPRESSED = 512 * 1024 * 1024
MAX_ZIP_RATIO = 200

_import_lock = threading.Lock()


def file_type_for(name: str) -> str | None:
    """The file type (``pdf``, ``docx``...) for a file name, or None if unsupported."""
    return FILE_TYPES.get(Path(name).suffix.lower())


def _partitioner(file_type: str) -> Callable[..., list[Any]]:
    # Import lazily: unstructured takes seconds to import and is only needed when parsing.
    with _import_lock:
        offline_nlp.install()
        match file_type:
            case "pdf":
                from unstructured.partition.pdf import partition_pdf

                return lambda f: partition_pdf(filename=f, strategy="fast", languages=["eng"])
            case "docx":
                from unstructured.partition.docx import partition_docx

                return lambda f: partition_docx(filename=f, languages=["eng"])
            case "pptx":
                from unstructured.partition.pptx import partition_pptx

                return lambda f: partition_pptx(filename=f, languages=["eng"])
            case "xlsx":
                from unstructured.partition.xlsx import partition_xlsx

                return lambda f: partition_xlsx(
                    filename=f, languages=["eng"], find_subtable=False
                )
            case "html":
                from unstructured.partition.html import partition_html

                return lambda f: partition_html(text=read_text(f), languages=["eng"])
            case "md":
                from unstructured.partition.md import partition_md

                return lambda f: partition_md(text=read_text(f), languages=["eng"])
            case "txt":
                from unstructured.partition.text import partition_text

                return lambda f: partition_text(text=read_text(f), languages=["eng"])
            case "eml":
                from unstructured.partition.email import partition_email

                return lambda f: partition_email(
                    filename=f, languages=["eng"], process_attachments=False
                )
    raise IngestError(f"unsupported file type {file_type!r}")


def _check_magic(path: Path, file_type: str, head: bytes) -> None:
    label = _LABELS[file_type]
    if file_type == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise IngestError(f"not a valid {label} file: it does not start with a PDF header")
        _check_pdf(path)
    if file_type in _OOXML_MAIN_PART:
        if not head.startswith(b"PK"):
            raise IngestError(f"not a valid {label} file: it is not a zip-based Office document")
        _check_zip(path, file_type)


def _check_pdf(path: Path) -> None:
    """Open the PDF's structure with pypdf: a damaged file gets a clear reason up front."""
    from pypdf import PdfReader

    try:
        pages = len(PdfReader(path, strict=False).pages)
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise IngestError(f"could not parse this PDF file: it is damaged ({reason})") from exc
    if pages == 0:
        raise IngestError("could not parse this PDF file: it is damaged (no readable pages)")


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


def _check_zip(path: Path, file_type: str) -> None:
    label = _LABELS[file_type]
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"not a valid {label} file: broken zip container ({exc})") from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise IngestError(
            f"{label} file rejected: {len(infos)} zip members (limit {MAX_ZIP_MEMBERS})"
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_UNCOMPRESSED:
        raise IngestError(
            f"{label} file rejected: declares {total // 2**20} MiB uncompressed "
            f"(limit {MAX_ZIP_UNCOMPRESSED // 2**20} MiB)"
        )
    for info in infos:
        ratio = info.file_size / info.compress_size if info.compress_size else 0
        if ratio > MAX_ZIP_RATIO and info.file_size > 10 * 2**20:
            raise IngestError(
                f"{label} file rejected: member {info.filename!r} compresses "
                f"{int(ratio)}:1 (limit {MAX_ZIP_RATIO}:1)"
            )
    prefix = _OOXML_MAIN_PART[file_type]
    if not any(i.filename.startswith(prefix) for i in infos):
        raise IngestError(f"not a valid {label} file: the package has no {prefix} part")


def _table_text(element: Any) -> str:
    """A table as rows of ``cell | cell`` lines (readable for people and models)."""
    html = getattr(element.metadata, "text_as_html", None)
    if html:
        try:
            from lxml import html as lxml_html

            root = lxml_html.fromstring(html)
            rows = []
            for tr in root.iter("tr"):
                cells = [" ".join(c.text_content().split()) for c in tr if c.tag in ("td", "th")]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                return "\n".join(rows)
        except Exception:  # noqa: BLE001 - fall back to unstructured's flat text
            log.debug("could not read table HTML", exc_info=True)
    return element.text


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split())


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
            text = _clean(el.text or "")
            kind = "title" if category == "Title" else "text"
        if not text:
            continue
        depth = getattr(el.metadata, "category_depth", None) if kind == "title" else None
        blocks.append(Block(text=text, kind=kind, page=page, depth=depth))
    return blocks


class UnstructuredParser:
    """:class:`ingest.types.Parser` backed by ``unstructured``."""

    def parse(self, path: Path, file_type: str) -> ParsedDocument:
        """Parse ``path``; raise :class:`IngestError` with a readable reason if unusable."""
        if file_type not in _LABELS:
            raise IngestError(f"unsupported file type {file_type!r}")
        label = _LABELS[file_type]
        try:
            size = path.stat().st_size
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError as exc:
            raise IngestError(f"cannot read the file: {exc.strerror or exc}") from exc
        if size == 0:
            raise IngestError("the file is empty")
        _check_magic(path, file_type, head)
        partition = _partitioner(file_type)
        try:
            elements = partition(str(path))
        except IngestError:
            raise
        except MemoryError as exc:
            raise IngestError(f"the {label} file is too large to parse in memory") from exc
        except Exception as exc:  # noqa: BLE001 - parsers raise anything; we report it
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise IngestError(f"could not parse this {label} file: {reason}") from exc
        blocks = elements_to_blocks(elements)
        if not blocks:
            hint = " (a scanned PDF needs OCR, which is not enabled)" if file_type == "pdf" else ""
            raise IngestError(f"no text could be extracted from this {label} file{hint}")
        pages = [b.page for b in blocks if b.page is not None]
        return ParsedDocument(blocks=blocks, num_pages=max(pages) if pages else None)
