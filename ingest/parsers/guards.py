"""Cheap checks that run before any parser sees a file's bytes.

Wrong magic bytes, damaged PDFs and PDFs with too many pages (counted with pypdf), zip
containers (DOCX/PPTX/XLSX) that declare absurd sizes or ratios, nest archives or carry XML
members with a DOCTYPE or entity declarations (billion laughs, XXE), and HTML with entity
declarations or an external DTD are all refused here with an :class:`IngestError` a user can
read. Nothing is resolved or fetched: expat only reports the declarations it sees.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ingest.types import IngestError

# The file types the parsers read, as users call them (in messages).
LABELS = {
    "pdf": "PDF", "docx": "Word (DOCX)", "pptx": "PowerPoint (PPTX)", "xlsx": "Excel (XLSX)",
    "html": "HTML", "md": "Markdown", "txt": "text", "eml": "e-mail (EML)",
    "png": "PNG image", "jpeg": "JPEG image", "tiff": "TIFF image",
}
# Images are read with OCR (ingest/parsers/ocr.py); their magic numbers.
IMAGE_TYPES = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",),
               "tiff": (b"II*\x00", b"MM\x00*")}
_OOXML_MAIN_PART = {"docx": "word/", "pptx": "ppt/", "xlsx": "xl/"}

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


def check_magic(path: Path, file_type: str, head: bytes, max_pages: int | None = None) -> None:
    """Refuse a file whose first bytes (``head``) do not fit its type, or that fails its checks.

    PDFs are then opened with pypdf (damaged, more than ``max_pages`` pages); Office files go
    through the zip container checks.
    """
    label = LABELS[file_type]
    if file_type == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise IngestError(f"not a valid {label} file: it does not start with a PDF header")
        _check_pdf(path, max_pages)
    if file_type in IMAGE_TYPES and not head.startswith(IMAGE_TYPES[file_type]):
        raise IngestError(f"not a valid {label} file: its first bytes are not a "
                          f"{label.split()[0]} header")
    if file_type in _OOXML_MAIN_PART:
        if not head.startswith(b"PK"):
            raise IngestError(f"not a valid {label} file: it is not a zip-based Office document")
        _check_zip(path, file_type)


def too_many_pages(pages: int, max_pages: int) -> IngestError:
    """The error for a PDF over ``ingest.sandbox.max_pages``."""
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
                raise too_many_pages(declared, max_pages)
        pages = len(reader.pages)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise IngestError(f"could not parse this PDF file: it is damaged ({reason})") from exc
    if pages == 0:
        raise IngestError("could not parse this PDF file: it is damaged (no readable pages)")
    if max_pages is not None and pages > max_pages:
        raise too_many_pages(pages, max_pages)


def _check_zip(path: Path, file_type: str) -> None:
    """Refuse zip bombs, nested archives and XML members with a DOCTYPE.

    Runs before python-docx/pptx/openpyxl open the package; sizes come from the central
    directory, member contents are read only as far as the checks need.
    """
    label = LABELS[file_type]
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
    label = LABELS[file_type]
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
