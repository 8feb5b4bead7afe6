"""Parse files into structural blocks with ``unstructured`` (PDFs by the fast pdfminer path).

Each file type goes to its own partitioner; elements become :class:`Block` objects at this
edge. Cheap checks run before any parser sees the bytes (empty file, wrong magic bytes,
PDFs with too many pages, zip containers that declare absurd sizes or nest archives, XML with
DOCTYPE/entity declarations), and every parser failure becomes an :class:`IngestError` whose
message a user can read. In production this runs inside the sandbox worker
(``ingest/sandbox.py``), which adds time, memory and output limits.
"""

from __future__ import annotations

import logging
import re
import threading
import zipfile
import zlib
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
# An XML member's prolog (everything before the root element, where a DOCTYPE would be) is
# read up to this many decompressed bytes; a longer prolog is refused.
MAX_XML_PROLOG = 1024 * 1024
_XML_READ = 64 * 1024
# Magic numbers of zip archives (local header, empty archive, spanned archive).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Office keeps embedded workbooks of charts and OLE objects here; no parser opens them.
_EMBEDDINGS_DIR = re.compile(r"^(word|ppt|xl)/embeddings/[^/]+$")
XML_ENTITY_REASON = (
    "XML entity declarations are not allowed (possible XXE / entity expansion attack)"
)

_import_lock = threading.Lock()


def file_type_for(name: str) -> str | None:
    """The file type (``pdf``, ``docx``...) for a file name, or None if unsupported."""
    return FILE_TYPES.get(Path(name).suffix.lower())


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


def _check_magic(path: Path, file_type: str, head: bytes, max_pages: int | None = None) -> None:
    label = _LABELS[file_type]
    if file_type == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise IngestError(f"not a valid {label} file: it does not start with a PDF header")
        _check_pdf(path, max_pages)
    if file_type in _OOXML_MAIN_PART:
        if not head.startswith(b"PK"):
            raise IngestError(f"not a valid {label} file: it is not a zip-based Office document")
        _check_zip(path, file_type)


def _too_many_pages(pages: int, max_pages: int) -> IngestError:
    return IngestError(f"PDF has {pages} pages (limit {max_pages}, ingest.sandbox.max_pages)")


def _check_pdf(path: Path, max_pages: int | None = None) -> None:
    """Open the PDF's structure with pypdf and count its pages.

    A damaged file gets a clear reason up front, and one with more than ``max_pages`` pages is
    refused before any text is extracted.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(path, strict=False)
        if max_pages is not None:
            # The page tree's own /Count first: refuses a huge file without walking its tree.
            declared = reader.trailer["/Root"]["/Pages"].get("/Count")
            if isinstance(declared, int) and declared > max_pages:
                raise _too_many_pages(declared, max_pages)
        pages = len(reader.pages)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise IngestError(f"could not parse this PDF file: it is damaged ({reason})") from exc
    if pages == 0:
        raise IngestError("could not parse this PDF file: it is damaged (no readable pages)")
    if max_pages is not None and pages > max_pages:
        raise _too_many_pages(pages, max_pages)


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
    """Refuse zip bombs, nested archives and XML members with a DOCTYPE.

    Runs before python-docx/pptx/openpyxl open the package; sizes come from the central
    directory, member contents are read only as far as the checks need.
    """
    label = _LABELS[file_type]
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_zip_directory(infos, file_type)
            for info in infos:
                if not info.is_dir():
                    _check_zip_member(zf, info, label)
    except IngestError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError, zlib.error) as exc:  # zlib: a corrupt member
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise IngestError(f"not a valid {label} file: broken zip container ({reason})") from exc


def _check_zip_directory(infos: list[zipfile.ZipInfo], file_type: str) -> None:
    label = _LABELS[file_type]
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
        if not info.filename:  # an empty name, or one starting with NUL (zipfile cuts it there)
            raise IngestError(f"not a valid {label} file: a zip member has an empty name")
        ratio = info.file_size / info.compress_size if info.compress_size else 0
        if ratio > MAX_ZIP_RATIO and info.file_size > 10 * 2**20:
            raise IngestError(
                f"{label} file rejected: member {info.filename!r} compresses "
                f"{int(ratio)}:1 (limit {MAX_ZIP_RATIO}:1)"
            )
    prefix = _OOXML_MAIN_PART[file_type]
    if not any(i.filename.startswith(prefix) for i in infos):
        raise IngestError(f"not a valid {label} file: the package has no {prefix} part")


def _check_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
    """A nested archive is refused; an XML member's prolog is checked for a DOCTYPE."""
    with zf.open(info) as fh:
        head = fh.read(_XML_READ)
        if head.startswith(_ZIP_MAGIC) and not _EMBEDDINGS_DIR.match(info.filename):
            raise IngestError(
                f"{label} file rejected: member {info.filename!r} is a nested archive "
                "(archives inside Office files are not accepted)"
            )
        if _looks_like_xml(head):
            _check_xml_prolog(head, fh, f"{label} file rejected: member {info.filename!r}")


# UCS-4 and EBCDIC spellings of "<" / "<?xm", which libxml2 detects but expat does not read.
_XML_UNSUPPORTED = (b"\x00\x00\x00<", b"<\x00\x00\x00", b"\x00\x00\xfe\xff",
                    b"\xff\xfe\x00\x00", b"\x4c\x6f\xa7\x94")


def _looks_like_xml(head: bytes) -> bool:
    """Whether an XML parser would read this member (it starts with ``<`` in some encoding)."""
    if head.startswith(_XML_UNSUPPORTED):
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[:256].decode("utf-16", errors="ignore").lstrip(" \t\r\n").startswith("<")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n").startswith((b"<", b"\x00<"))


class _RootReached(Exception):
    pass


class _DoctypeFound(Exception):
    pass


def _check_xml_prolog(head: bytes, rest: Any, what: str) -> None:
    """Read an XML document up to its root element; refuse any DOCTYPE or entity declaration.

    Billion laughs, quadratic blowup and XXE all need one. expat only reports the
    declarations: nothing is resolved or fetched. ``rest`` supplies the bytes after ``head``.
    """
    from xml.parsers import expat

    if head.startswith(_XML_UNSUPPORTED):
        raise IngestError(f"{what} uses an unsupported XML encoding (UCS-4 or EBCDIC)")

    def doctype(*_: object) -> None:
        raise _DoctypeFound

    def root(*_: object) -> None:
        raise _RootReached

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = root
    data, seen = head, 0
    try:
        while True:
            seen += len(data)
            parser.Parse(data, not data)
            if not data:
                raise IngestError(f"{what} is not a valid XML document (no root element)")
            if seen >= MAX_XML_PROLOG:
                raise IngestError(
                    f"{what} has an XML prolog over {MAX_XML_PROLOG // 1024} KiB before its "
                    "root element"
                )
            data = rest.read(_XML_READ)
    except _RootReached:
        return
    except _DoctypeFound:
        raise IngestError(f"{what}: {XML_ENTITY_REASON}") from None
    except expat.ExpatError as exc:
        raise IngestError(f"{what} is not a valid XML document ({exc})") from None
    except (LookupError, ValueError) as exc:  # the declared encoding's codec: unknown, multi-byte
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise IngestError(f"{what} declares an unsupported XML encoding ({reason})") from None


_HTML_ENTITY = re.compile(r"<!\s*ENTITY", re.IGNORECASE)
_HTML_DOCTYPE = re.compile(r"<!DOCTYPE\b([^>\[]*)(\[?)", re.IGNORECASE)
_DOCTYPE_LITERAL = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_KNOWN_DTD = ("http://www.w3.org/", "https://www.w3.org/", "about:legacy-compat")


def check_html_declarations(text: str) -> None:
    """Refuse HTML with entity declarations, an internal DTD subset or a non-W3C DTD.

    ``<!DOCTYPE html>`` and the W3C's public (X)HTML DTDs are fine: they are never fetched.
    """
    if _HTML_ENTITY.search(text):
        raise IngestError(f"HTML file rejected: {XML_ENTITY_REASON}")
    for match in _HTML_DOCTYPE.finditer(text):
        if match.group(2):
            raise IngestError(f"HTML file rejected: {XML_ENTITY_REASON}")
        for quoted in _DOCTYPE_LITERAL.finditer(match.group(1)):
            literal = (quoted.group(1) or quoted.group(2) or "").strip()
            if literal.startswith(("-//", "+//")) or literal.lower().startswith(_KNOWN_DTD):
                continue  # a formal public identifier, or a W3C DTD (never fetched)
            raise IngestError(
                f"HTML file rejected: its DOCTYPE references the external DTD {literal[:100]!r} "
                "(possible XXE attack)"
            )


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
    """:class:`ingest.types.Parser` backed by ``unstructured``.

    ``max_pages`` refuses longer PDFs up front; ``max_text_chars`` refuses html/md/txt files
    whose decoded text is longer (before unstructured builds elements from it).
    """

    def __init__(self, max_pages: int | None = None, max_text_chars: int | None = None) -> None:
        self.max_pages = max_pages
        self.max_text_chars = max_text_chars

    def warm_up(self) -> None:
        """Import every partitioner and run a tiny one.

        The sandbox worker does this once at start, so no file's time limit pays for imports.
        """
        for file_type in _LABELS:
            _partitioner(file_type)
        _partitioner("txt")("Warm-up sentence for the parser. It describes nothing.")

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
        _check_magic(path, file_type, head, self.max_pages)
        source = str(path)
        if file_type in _TEXT_TYPES and file_type != "eml":
            source = self._read_text(path, file_type)
        partition = _partitioner(file_type)
        try:
            elements = partition(source)
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
        num_pages = max(pages) if pages else None
        if file_type == "pdf" and self.max_pages is not None and (num_pages or 0) > self.max_pages:
            raise _too_many_pages(num_pages or 0, self.max_pages)
        return ParsedDocument(blocks=blocks, num_pages=num_pages)

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


def output_limit_reason(limit_bytes: float) -> str:
    """The reason given when a file's extracted text is over ``ingest.sandbox.max_output_mb``."""
    return f"extracted text exceeds {limit_bytes / 2**20:g} MiB (ingest.sandbox.max_output_mb)"
