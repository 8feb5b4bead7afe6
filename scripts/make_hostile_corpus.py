"""Generate a corpus of hostile and broken files for Enclave's ingestion tests.

Everything is generated locally (nothing is downloaded) and deterministically: zip entries
carry a fixed timestamp, PDFs are written byte by byte. Together with the files the script
writes ``manifest.json``: for every file its expected outcome when ingested (``"added"``, or
``"failed"`` with a substring of the reason) and, for the cases about hostile *names*, the raw
name a client sends on upload (``upload_name``) and the document name the web app should make
of it (``expected_name``, as ``web.uploads.display_name`` does).

The expected reasons assume the test profile (config/settings-test.yaml) with
``ingest.max_file_mb`` raised to 64 so that every file reaches the check it is about (see
``manifest["assumes"]``); through the web app, files over ``web.max_upload_mb`` get 413.

Cases: zip bombs (1 GiB declared in a ~1 MiB DOCX, a high-ratio member), a DOCX with 100,000
members, nested archives, billion laughs / quadratic blowup / XXE (file:///etc/passwd and
http://127.0.0.1:PORT/, which a test listens on and which must see no connection) in DOCX,
XLSX, PPTX and HTML, PDFs with circular page trees, a /Prev loop and 10,000 pages, broken
encodings, a 50 MB single-line text file, empty files of each type, wrong extensions, and
files whose upload names are path traversals, absolute paths, contain NUL or are 300
characters long. Control files (valid documents built the same way) must be added.

Usage::

    python scripts/make_hostile_corpus.py OUT_DIR [--port PORT]
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

ZIP_DATE = (2024, 1, 15, 9, 0, 0)
DEFAULT_PORT = 8765
LONG_LINE_BYTES = 50_000_000

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    XML_DECL
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    XML_DECL
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)

GOOD_TEXT = "The quarterly safety drill takes place on the first Monday of March."


# -- zip / OOXML --------------------------------------------------------------------------------
def _info(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _write_zip(path: Path, members: list[tuple[str, bytes | str]]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(_info(name), data)


def _document_xml(body_text: str = GOOD_TEXT, prolog: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + prolog
        + f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>{body_text}</w:t></w:r>'
        "</w:p></w:body></w:document>"
    )


def _docx_members(document: bytes | str) -> list[tuple[str, bytes | str]]:
    return [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", ROOT_RELS),
        ("word/document.xml", document),
    ]


def _docx(
    path: Path, document: bytes | str, extra: list[tuple[str, bytes | str]] | None = None
) -> None:
    _write_zip(path, _docx_members(document) + (extra or []))


# A zip written by hand, for the two cases zipfile makes slow: a member of 1 GiB of zeros
# (its deflate stream is one full-flushed 1 MiB block repeated) and 100,000 members.
_DOS_TIME = (ZIP_DATE[3] << 11) | (ZIP_DATE[4] << 5) | (ZIP_DATE[5] // 2)
_DOS_DATE = ((ZIP_DATE[0] - 1980) << 9) | (ZIP_DATE[1] << 5) | ZIP_DATE[2]


class _Raw:
    """One member of a hand-written zip: ``data`` repeated ``repeat`` times, then ``tail``."""

    def __init__(self, name: str, method: int, crc: int, size: int, data: bytes,
                 repeat: int = 1, tail: bytes = b"") -> None:
        self.name, self.method, self.crc, self.size = name.encode(), method, crc, size
        self.data, self.repeat, self.tail = data, repeat, tail

    @classmethod
    def deflated(cls, name: str, content: bytes | str) -> _Raw:
        raw = content.encode("utf-8") if isinstance(content, str) else content
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return cls(name, 8, zlib.crc32(raw), len(raw), c.compress(raw) + c.flush())

    @classmethod
    def zeros(cls, name: str, mib: int) -> _Raw:
        block = bytes(1 << 20)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)  # self-contained: repeatable
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(block, crc)
        return cls(name, 8, crc, mib << 20, chunk, repeat=mib, tail=c.flush())


def _write_raw_zip(path: Path, members: list[_Raw]) -> None:
    central = []
    with open(path, "wb") as fh:
        for m in members:
            offset = fh.tell()
            packed = len(m.data) * m.repeat + len(m.tail)
            fh.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, m.method, _DOS_TIME,
                                 _DOS_DATE, m.crc, packed, m.size, len(m.name), 0) + m.name)
            for _ in range(m.repeat):
                fh.write(m.data)
            fh.write(m.tail)
            central.append(struct.pack(
                "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, m.method, _DOS_TIME,
                _DOS_DATE, m.crc, packed, m.size, len(m.name), 0, 0, 0, 0, 0o644 << 16, offset,
            ) + m.name)
        directory = b"".join(central)
        start, count = fh.tell(), len(members)
        fh.write(directory)
        if count > 0xFFFF:  # zip64 end records carry the real count
            end64 = fh.tell()
            fh.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                                 len(directory), start))
            fh.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, end64, 1))
            count = 0xFFFF
        fh.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory),
                             start, 0))


def _raw_docx_members() -> list[_Raw]:
    return [_Raw.deflated(name, data) for name, data in _docx_members(_document_xml())]


def _billion_laughs(root: str) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return f"<!DOCTYPE {root} [\n " + "\n ".join(lines) + "\n]>\n"


def _quadratic(root: str) -> tuple[str, str]:
    return f'<!DOCTYPE {root} [<!ENTITY a "{"x" * 50_000}">]>\n', "&a;" * 20_000


def _xxe(root: str, url: str) -> str:
    return f'<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{url}">]>\n'


def _xxe_parameter(root: str, url: str) -> str:
    return f'<!DOCTYPE {root} [<!ENTITY % remote SYSTEM "{url}"> %remote;]>\n'


def _external_dtd(root: str, url: str) -> str:
    return f'<!DOCTYPE {root} SYSTEM "{url}">\n'


def _xlsx(path: Path, workbook: str) -> None:
    _write_zip(path, [
        ("[Content_Types].xml", CONTENT_TYPES.replace("/word/document.xml", "/xl/workbook.xml")),
        ("_rels/.rels", ROOT_RELS.replace("word/document.xml", "xl/workbook.xml")),
        ("xl/workbook.xml", workbook),
    ])


def _pptx(path: Path, presentation: str) -> None:
    _write_zip(path, [
        ("[Content_Types].xml",
         CONTENT_TYPES.replace("/word/document.xml", "/ppt/presentation.xml")),
        ("_rels/.rels", ROOT_RELS.replace("word/document.xml", "ppt/presentation.xml")),
        ("ppt/presentation.xml", presentation),
    ])


# -- PDF ---------------------------------------------------------------------------------------
def _pdf(objects: list[bytes], trailer_extra: bytes = b"", prev_self: bool = False) -> bytes:
    """A PDF from numbered objects (1..n, object 1 is the catalog) with a correct xref."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    prev = b" /Prev %d" % xref if prev_self else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, prev, trailer_extra, xref
    )
    return bytes(out)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _text_pdf(text: str = GOOD_TEXT, prev_self: bool = False) -> bytes:
    content = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        _stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ], prev_self=prev_self)


def _pages_self_loop() -> bytes:
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
    ])


def _pages_cycle() -> bytes:
    """Catalog -> Pages A -> Pages B -> Pages A (a two-hop cycle, plus one real page)."""
    content = b"BT /F1 12 Tf 72 720 Td (Cycle) Tj ET"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        _stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def _many_pages(pages: int, declared: int | None = None) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % (declared or pages),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    return _pdf(objects)


# -- HTML --------------------------------------------------------------------------------------
def _html(body: str, prolog: str = "<!DOCTYPE html>\n") -> str:
    return (
        prolog + '<html lang="en"><head><meta charset="utf-8"><title>Notice</title></head>'
        f"<body><h1>Notice</h1><p>{body}</p></body></html>\n"
    )


XHTML_PROLOG = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
)


# -- the corpus ------------------------------------------------------------------------------------
class Corpus:
    """Writes files and collects their manifest entries."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.entries: list[dict[str, object]] = []

    def add(self, name: str, write: Callable[[Path], None] | bytes | str, expected: str,
            reason: str | None = None, case: str = "", **extra: object) -> None:
        path = self.out / name
        if callable(write):
            write(path)
        elif isinstance(write, str):
            path.write_bytes(write.encode("utf-8"))
        else:
            path.write_bytes(write)
        entry: dict[str, object] = {"file": name, "case": case, "expected": expected}
        if reason is not None:
            entry["reason"] = reason
        entry.update(extra)
        entry["bytes"] = path.stat().st_size
        self.entries.append(entry)


def build(out: Path, port: int) -> dict[str, object]:
    """Write the corpus into ``out``; return the manifest (also written as manifest.json)."""
    out.mkdir(parents=True, exist_ok=True)
    c = Corpus(out)
    loopback = f"http://127.0.0.1:{port}/"
    xxe_reason = "possible XXE"

    # controls: valid files built by the same code must be accepted
    c.add("control.docx", lambda p: _docx(p, _document_xml()), "added",
          case="valid DOCX built like the hostile ones")
    c.add("control_embedded_workbook.docx",
          lambda p: _docx(p, _document_xml(), [("word/embeddings/Workbook1.xlsx",
                                                _inner_zip())]),
          "added", case="embedded workbook under word/embeddings/ (as charts have) is allowed")
    c.add("control.html", _html(GOOD_TEXT), "added", case="HTML5 with <!DOCTYPE html>")
    c.add("control_xhtml.html", _html(GOOD_TEXT, XHTML_PROLOG), "added",
          case="XHTML 1.0 DOCTYPE with the W3C public DTD")
    c.add("control.pdf", _text_pdf(), "added", case="hand-built one-page PDF")

    # zip containers
    c.add("zip_bomb.docx", lambda p: _write_raw_zip(
        p, [*_raw_docx_members(), _Raw.zeros("word/media/image1.png", 1024)]
    ), "failed", "MiB uncompressed", case="one member of 1 GiB of zeros (1 MiB on disk)")
    c.add("zip_ratio.docx", lambda p: _write_raw_zip(
        p, [*_raw_docx_members(), _Raw.zeros("word/media/image1.png", 64)]
    ), "failed", "compresses", case="a 64 MiB member compressing 1000:1")
    empty_crc = zlib.crc32(b"")
    c.add("many_members.docx", lambda p: _write_raw_zip(
        p, [*_raw_docx_members()] + [_Raw(f"w/{i:05d}", 0, empty_crc, 0, b"")
                                     for i in range(100_000)]
    ), "failed", "zip members (limit", case="100,000 zip members")
    c.add("nested_archive.docx",
          lambda p: _docx(p, _document_xml(), [("word/media/inner.docx", _inner_zip())]),
          "failed", "nested archive", case="a DOCX inside the DOCX")
    c.add("pdf_named.docx", _text_pdf(), "failed", "not a zip-based Office document",
          case="a PDF with a .docx name")
    c.add("plain_zip.xlsx", lambda p: _write_zip(p, [("readme.txt", "hello")]), "failed",
          "has no xl/ part", case="a zip that is not a workbook")

    # XML entity attacks inside Office files
    root = "w:document"
    c.add("billion_laughs.docx",
          lambda p: _docx(p, _document_xml("&lol9;", _billion_laughs(root))),
          "failed", "XML entity declarations are not allowed", case="billion laughs")
    prolog, refs = _quadratic(root)
    c.add("quadratic_blowup.docx", lambda p: _docx(p, _document_xml(refs, prolog)),
          "failed", "XML entity declarations are not allowed", case="quadratic blowup")
    c.add("xxe_file.docx",
          lambda p: _docx(p, _document_xml("&xxe;", _xxe(root, "file:///etc/passwd"))),
          "failed", xxe_reason, case="external entity reading /etc/passwd")
    c.add("xxe_http.docx",
          lambda p: _docx(p, _document_xml("&xxe;", _xxe(root, loopback + "xxe"))),
          "failed", xxe_reason, case="external entity fetching from the loopback listener")
    c.add("xxe_parameter.docx",
          lambda p: _docx(p, _document_xml("x", _xxe_parameter(root, loopback + "evil.dtd"))),
          "failed", xxe_reason, case="parameter entity fetching an external DTD")
    c.add("xxe_external_dtd.docx",
          lambda p: _docx(p, _document_xml("x", _external_dtd(root, loopback + "evil.dtd"))),
          "failed", xxe_reason, case="DOCTYPE with an external DTD on the loopback listener")
    c.add("xxe_utf16.docx",
          lambda p: _docx(p, _document_xml("&xxe;", _xxe(root, "file:///etc/passwd"))
                          .replace('encoding="UTF-8"', 'encoding="UTF-16"')
                          .encode("utf-16")),
          "failed", xxe_reason, case="XXE in a UTF-16 encoded part")

    def xxe_content_types(path: Path) -> None:
        types = CONTENT_TYPES.replace(
            XML_DECL, XML_DECL + _xxe("Types", "file:///etc/passwd")
        )
        _write_zip(path, [("[Content_Types].xml", types), ("_rels/.rels", ROOT_RELS),
                          ("word/document.xml", _document_xml())])

    c.add("xxe_content_types.docx", xxe_content_types, "failed", xxe_reason,
          case="XXE in [Content_Types].xml")
    c.add("xxe_http.xlsx",
          lambda p: _xlsx(p, '<?xml version="1.0"?>\n' + _xxe("workbook", loopback + "xlsx")
                          + "<workbook>&xxe;</workbook>"),
          "failed", xxe_reason, case="XXE in an XLSX workbook")
    c.add("xxe_http.pptx",
          lambda p: _pptx(p, '<?xml version="1.0"?>\n' + _xxe("presentation", loopback + "pptx")
                          + "<presentation>&xxe;</presentation>"),
          "failed", xxe_reason, case="XXE in a PPTX presentation")

    # ... and in HTML
    c.add("billion_laughs.html", _html("&lol9;", _billion_laughs("html")), "failed",
          "XML entity declarations are not allowed", case="billion laughs")
    hprolog, hrefs = _quadratic("html")
    c.add("quadratic_blowup.html", _html(hrefs[:3000], hprolog), "failed",
          "XML entity declarations are not allowed", case="quadratic blowup")
    c.add("xxe_file.html", _html("&xxe;", _xxe("html", "file:///etc/passwd")), "failed",
          xxe_reason, case="external entity reading /etc/passwd")
    c.add("xxe_http.html", _html("&xxe;", _xxe("html", loopback + "html")), "failed",
          xxe_reason, case="external entity fetching from the loopback listener")
    c.add("xxe_external_dtd.html", _html("x", _external_dtd("html", loopback + "evil.dtd")),
          "failed", xxe_reason, case="DOCTYPE with an external DTD on the loopback listener")

    # PDFs
    c.add("pdf_pages_self_loop.pdf", _pages_self_loop(), "failed", "could not parse this PDF",
          case="/Pages whose /Kids contains itself")
    c.add("pdf_pages_cycle.pdf", _pages_cycle(), "failed", "could not parse this PDF",
          case="page tree cycle over two /Pages nodes")
    c.add("pdf_prev_loop.pdf", _text_pdf(prev_self=True), "added",
          case="trailer /Prev pointing at its own xref (PDFium reads each xref once and finds "
               "the text; pdfminer found no pages)")
    c.add("pdf_10000_pages.pdf", _many_pages(10_000), "failed", "ingest.sandbox.max_pages",
          case="10,000 tiny pages")
    c.add("pdf_count_lies.pdf", _many_pages(10_000, declared=1), "failed",
          "ingest.sandbox.max_pages", case="10,000 pages under a /Count of 1")
    c.add("html_named.pdf", _html(GOOD_TEXT), "failed", "does not start with a PDF header",
          case="HTML with a .pdf name")

    # text encodings and sizes
    c.add("invalid_utf8.txt", b"Valid start \xff\xfe\xfd then " + GOOD_TEXT.encode() + b"\n",
          "added", case="bytes that are not UTF-8")
    c.add("utf16_no_bom.txt", (GOOD_TEXT + "\n").encode("utf-16-le"), "added",
          case="UTF-16 LE without a byte order mark")
    c.add("nul_bytes.md", f"# Drill\n\n{GOOD_TEXT}\x00 Bring\x00 a coat.\n".encode(), "added",
          case="NUL bytes inside Markdown (a few: more than 5% makes it binary)")

    def long_line(path: Path) -> None:
        sentence = b"All work and no play makes Jack a dull boy. "
        block = sentence * (2**20 // len(sentence))
        with open(path, "wb") as fh:
            left = LONG_LINE_BYTES
            while left:
                piece = block[:left]
                fh.write(piece)
                left -= len(piece)

    c.add("long_line.txt", long_line, "failed", "ingest.sandbox.max_output_mb",
          case="50 MB of text on one line (over the test profile's 16 MiB output limit)")
    for suffix in ("pdf", "docx", "pptx", "xlsx", "html", "md", "txt", "eml"):
        c.add(f"empty.{suffix}", b"", "failed", "the file is empty", case="empty file")

    # hostile names (for the upload path: the content is harmless)
    body = f"# Names\n\n{GOOD_TEXT}\n"
    long_name = "n" * 297 + ".md"
    for file, raw, expected_name, case in (
        ("name_traversal.md", "../../x.md", "x.md", "path traversal"),
        ("name_windows_traversal.md", "..\\..\\win.md", "win.md", "Windows path traversal"),
        ("name_absolute.md", "/tmp/enclave-hostile-absolute.md", "enclave-hostile-absolute.md",
         "absolute path"),
        ("name_nul.md", "nul\x00name.md", "nulname.md", "NUL inside the name"),
        ("name_long.md", long_name, "n" * 197 + ".md", "300-character name"),
    ):
        c.add(file, body, "added", case=case, upload_name=raw, expected_name=expected_name)

    manifest: dict[str, object] = {
        "version": 1,
        "loopback_port": port,
        "assumes": {"profile": "test", "ingest.max_file_mb": 64},
        "files": c.entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _inner_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in _docx_members(_document_xml("Inner document.")):
            zf.writestr(_info(name), data)
    return buffer.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output folder (created)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT,
                    help="loopback port the XXE files point at (default %(default)s)")
    args = ap.parse_args()
    manifest = build(args.out, args.port)
    files = manifest["files"]
    assert isinstance(files, list)
    total = sum(int(e["bytes"]) for e in files)
    print(f"wrote {len(files)} files ({total / 2**20:.1f} MiB) and manifest.json to {args.out}")


if __name__ == "__main__":
    main()
