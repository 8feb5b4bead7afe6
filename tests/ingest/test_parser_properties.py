"""Property tests (fuzzing) for the parser's cheap checks, the text decoder and the chunker.

Each entry point gets random bytes and mutated real files (flips, inserts, deletes and
truncations at positions hypothesis chooses); the only failure allowed is an
:class:`IngestError` with a readable reason, never another exception type or a hang.

Runs are bounded and reproducible (``derandomize=True``, no example database). Set
``ENCLAVE_FUZZ_EXAMPLES`` to run every property with that many examples instead (the
per-test timeout grows with it).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import ChunkingSettings
from ingest.parsers import guards
from ingest.parsers import unstructured as up
from ingest.types import BLOCK_SEPARATOR, FILE_TYPES, Block, IngestError, ParsedDocument, file_type_for

_FUZZ_ENV = os.environ.get("ENCLAVE_FUZZ_EXAMPLES", "").strip()
_TIMEOUT_S = 120


def _examples(default: int) -> int:
    return max(1, int(_FUZZ_ENV)) if _FUZZ_ENV else default


def _fuzz(default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Bounded hypothesis settings plus a hang guard, scaled when the env var is set."""
    examples = _examples(default)
    timeout = max(_TIMEOUT_S, _TIMEOUT_S * examples // default)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large],
        )(fn)
        return pytest.mark.timeout(timeout)(fn)

    return wrap


def _assert_classified(exc: BaseException) -> None:
    """A classified failure: an IngestError whose message a user can read."""
    assert isinstance(exc, IngestError), f"unclassified {type(exc).__name__}: {exc!r}"
    message = str(exc)
    assert message.strip(), "empty IngestError message"
    assert message.isprintable(), f"unreadable message {message!r}"
    assert len(message) <= 1000, f"message of {len(message)} characters"
    assert any(ch.isalpha() for ch in message) and " " in message, message


def _outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the IngestError); anything else fails the test."""
    try:
        return True, call()
    except Exception as exc:  # noqa: BLE001 - classified below
        _assert_classified(exc)
        return False, exc


# -- strategies ---------------------------------------------------------------------------------
@st.composite
def mutated(draw: st.DrawFn, base: bytes, hot: tuple[int, ...] = ()) -> bytes:
    """``base`` with 1-4 flips/inserts/deletes/overwrites and maybe a truncation.

    Positions are uniform or near one of the ``hot`` offsets (e.g. zip headers).
    """
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        size = max(1, len(data))
        if hot and draw(st.booleans()):
            pos = (draw(st.sampled_from(hot)) + draw(st.integers(-4, 48))) % size
        else:
            pos = draw(st.integers(0, size - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "overwrite", "truncate"]))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "overwrite":
            chunk = draw(st.sampled_from([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                                          b"\xff\xff\xff\x7f", b"PK\x03\x04", b"<!DOCTYPE"]))
            data[pos : pos + len(chunk)] = chunk
        else:
            del data[pos:]
    return bytes(data)


def _signatures(data: bytes) -> tuple[int, ...]:
    """Offsets of zip record signatures (local headers, central directory, end record)."""
    hot = []
    start = data.find(b"PK")
    while start >= 0:
        if data[start + 2 : start + 4] in (b"\x03\x04", b"\x01\x02", b"\x05\x06", b"\x07\x08"):
            hot.append(start)
        start = data.find(b"PK", start + 1)
    return tuple(hot) or (0,)


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("Annual leave is 28 days. Sick leave needs a note after 3 days.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(1, 1).text = "Days", "28"
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Item", "Allowance"])
    sheet.append(["Meals", "EUR 45"])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def _pptx_bytes() -> bytes:
    from pptx import Presentation

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Safety drill"
    buf = io.BytesIO()
    presentation.save(buf)
    return buf.getvalue()


def _pdf_bytes() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=72, height=72)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def real_files() -> dict[str, bytes]:
    """Small real files of each binary type, generated once."""
    return {"docx": _docx_bytes(), "xlsx": _xlsx_bytes(), "pptx": _pptx_bytes(),
            "pdf": _pdf_bytes()}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, bytes], Path]]:
    """Writes an example's bytes to a file of the module's temp folder (reused per name)."""
    folder = tmp_path_factory.mktemp("fuzz")

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    yield write


# -- 1. file type detection and magic bytes ------------------------------------------------------
_SUFFIXES = sorted(FILE_TYPES) + [".PDF", ".DocX", ".exe", ".tar.gz", ".", ""]


@_fuzz(150)
@given(
    stem=st.text(max_size=40),
    suffix=st.sampled_from(_SUFFIXES),
    tail=st.one_of(st.just(""), st.text(max_size=8)),
)
def test_file_type_for_never_raises(stem: str, suffix: str, tail: str) -> None:
    name = stem + suffix + tail
    result = file_type_for(name)
    assert result is None or result in FILE_TYPES.values()
    if stem.isalnum() and stem.isascii() and not tail and suffix.lower() in FILE_TYPES:
        assert result == FILE_TYPES[suffix.lower()]


def _heads(real: dict[str, bytes], file_type: str) -> st.SearchStrategy[bytes]:
    magic = st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"PK\x05\x06", b"PK", b"\xef\xbb\xbf",
                             b"<?xml", b""])
    own = real.get(file_type, real["pdf"])
    return st.one_of(
        st.binary(max_size=2048),
        st.builds(lambda m, b: m + b, magic, st.binary(max_size=2048)),
        st.sampled_from(sorted(real.values())).flatmap(lambda base: mutated(base, (0,))),
        mutated(own, (0, len(own) - 64, own.rfind(b"xref"), own.rfind(b"trailer"))),
    )


@_fuzz(120)
@given(data=st.data(), file_type=st.sampled_from(sorted(guards.LABELS)),
       max_pages=st.one_of(st.none(), st.integers(0, 3)))
def test_check_magic_classifies_every_head(  # type: ignore[no-untyped-def]
    real_files, scratch, data: st.DataObject, file_type: str, max_pages: int | None
) -> None:
    content = data.draw(_heads(real_files, file_type), label="content")
    head = content[:4096]
    path = scratch(f"magic.{file_type}", content)
    ok, result = _outcome(lambda: guards.check_magic(path, file_type, head, max_pages))
    if file_type not in ("pdf", "docx", "pptx", "xlsx", *guards.IMAGE_TYPES):
        assert ok and result is None  # text types have no magic to check
    if file_type in guards.IMAGE_TYPES:  # images (OCR): their header, nothing more
        assert ok == head.startswith(guards.IMAGE_TYPES[file_type]), result
    if file_type == "pdf" and b"%PDF-" not in head[:1024]:
        assert not ok and "PDF header" in str(result)
    if file_type in ("docx", "pptx", "xlsx") and not head.startswith(b"PK"):
        assert not ok and "not a zip-based Office document" in str(result)


def test_check_magic_accepts_the_real_files(real_files, scratch) -> None:  # type: ignore[no-untyped-def]
    for file_type, content in real_files.items():
        path = scratch(f"real.{file_type}", content)
        guards.check_magic(path, file_type, content[:4096], max_pages=3)


# -- 2. zip containers ---------------------------------------------------------------------------
_OOXML = ("docx", "pptx", "xlsx")
_MEMBER_NAMES = st.one_of(
    st.sampled_from(["[Content_Types].xml", "_rels/.rels", "word/document.xml", "ppt/slide1.xml",
                     "xl/workbook.xml", "word/embeddings/Workbook1.xlsx", "word/media/a.png",
                     "docProps/core.xml", "dir/"]),
    st.builds(lambda p, s: p + s, st.sampled_from(["", "word/", "xl/", "ppt/"]),
              st.text(min_size=1, max_size=12)),
)
_PROLOG_DOCTYPE = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaa">]>\n<r>&a;</r>'
_MEMBER_CONTENT = st.one_of(
    st.binary(max_size=256),
    st.sampled_from([b"", b"<r/>", b'<?xml version="1.0" encoding="UTF-8"?>\n<w:document/>',
                     _PROLOG_DOCTYPE.encode(), b"PK\x03\x04rest", b"PK\x05\x06" + bytes(18),
                     "<r/>".encode("utf-16"), b"\xef\xbb\xbf<r/>", b"\x00\x00\x00<",
                     b'<?xml version="1.0" encoding="ebcdic-cp-us"?><r/>',
                     b"<?xml version='1.0' encoding='x-unknown'?><r/>"]),
    st.text(max_size=64).map(lambda t: ("<" + t).encode("utf-8", "surrogatepass")),
)


def _build_zip(members: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content, method in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, content)
    return buf.getvalue()


def _zip_expectation(members: list[tuple[str, bytes, int]], file_type: str) -> str | None:
    """A reason an unmutated generated zip must be refused for, if an obvious one applies."""
    prefix = guards._OOXML_MAIN_PART[file_type]
    if not any(name.startswith(prefix) for name, _, _ in members):
        return f"has no {prefix} part"
    for name, content, _ in members:
        if name.endswith("/"):
            continue
        if content.startswith(guards._ZIP_MAGIC) and not guards._EMBEDDINGS_DIR.match(name):
            return "nested archive"
        if content.startswith(_PROLOG_DOCTYPE.encode()):
            return guards.XML_ENTITY_REASON
    return None


_BENIGN = (b"", b"<r/>", b'<?xml version="1.0" encoding="UTF-8"?>\n<w:document/>',
           "<r/>".encode("utf-16"), b"\xef\xbb\xbf<r/>")


def _skeleton(file_type: str) -> list[tuple[str, bytes, int]]:
    """The members every package of ``file_type`` has, with harmless XML."""
    main = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml",
            "xlsx": "xl/workbook.xml"}[file_type]
    xml = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<root/>'
    return [(name, xml, zipfile.ZIP_DEFLATED) for name in ("[Content_Types].xml", "_rels/.rels",
                                                           main)]


@_fuzz(150)
@given(
    file_type=st.sampled_from(_OOXML),
    extras=st.lists(st.tuples(_MEMBER_NAMES, _MEMBER_CONTENT,
                              st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])),
                    max_size=6, unique_by=lambda m: m[0]),
    with_skeleton=st.booleans(),
    data=st.data(),
)
def test_check_zip_on_generated_and_mutated_zips(  # type: ignore[no-untyped-def]
    scratch, file_type: str, extras: list[tuple[str, bytes, int]], with_skeleton: bool,
    data: st.DataObject,
) -> None:
    members = list(extras)
    if with_skeleton:
        names = {name for name, _, _ in extras}
        members += [m for m in _skeleton(file_type) if m[0] not in names]
        members = data.draw(st.permutations(members), label="order")
    content = _build_zip(members)
    mutate = data.draw(st.booleans(), label="mutate")
    if mutate:
        content = data.draw(mutated(content, _signatures(content)), label="mutated")
    path = scratch(f"gen.{file_type}", content)
    ok, result = _outcome(lambda: guards._check_zip(path, file_type))
    if mutate:
        return
    expected = _zip_expectation(members, file_type)
    if expected is not None:
        if expected == "nested archive" or expected == guards.XML_ENTITY_REASON:
            assert not ok, (expected, members)  # an earlier member may fail first
        else:
            assert not ok and expected in str(result), (result, members)
    elif with_skeleton and all(c in _BENIGN and not n.endswith("/") for n, c, _ in extras):
        assert ok, (result, members)


@_fuzz(150)
@given(file_type=st.sampled_from(_OOXML), data=st.data())
def test_check_zip_on_mutated_real_office_files(  # type: ignore[no-untyped-def]
    real_files, scratch, file_type: str, data: st.DataObject
) -> None:
    base = real_files[data.draw(st.sampled_from(["docx", "xlsx", "pptx"]), label="base")]
    content = data.draw(st.one_of(mutated(base, _signatures(base)), st.binary(max_size=512)),
                        label="content")
    path = scratch(f"mut.{file_type}", content)
    _outcome(lambda: guards._check_zip(path, file_type))
    # the full magic check takes the same path for anything that starts with PK
    _outcome(lambda: guards.check_magic(path, file_type, content[:4096]))


def test_check_zip_accepts_the_real_office_files(real_files, scratch) -> None:  # type: ignore[no-untyped-def]
    for file_type in _OOXML:
        guards._check_zip(scratch(f"real.{file_type}", real_files[file_type]), file_type)


@_fuzz(150)
@given(
    file_type=st.sampled_from(_OOXML),
    entries=st.lists(st.tuples(_MEMBER_NAMES, st.integers(0, 2 * guards.MAX_ZIP_UNCOMPRESSED),
                               st.integers(0, 2**31)), max_size=8),
)
def test_check_zip_directory_limits(
    file_type: str, entries: list[tuple[str, int, int]]
) -> None:
    infos = []
    for name, file_size, compress_size in entries:
        info = zipfile.ZipInfo(name)
        info.file_size, info.compress_size = file_size, compress_size
        infos.append(info)
    ok, result = _outcome(lambda: guards._check_zip_directory(infos, file_type))
    total = sum(size for _, size, _ in entries)
    has_main = any(name.startswith(guards._OOXML_MAIN_PART[file_type]) for name, _, _ in entries)
    if total > guards.MAX_ZIP_UNCOMPRESSED or not has_main:
        assert not ok
    if ok:
        assert all(not (size > 10 * 2**20 and comp and size / comp > guards.MAX_ZIP_RATIO)
                   for _, size, comp in entries)


# -- 3. XML prologs and HTML declarations --------------------------------------------------------
_PROLOGS = [
    _PROLOG_DOCTYPE,
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE w [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>\n<w:document/>',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;">]>'
    "<lolz>&lol1;</lolz>",
    '<?xml version="1.0"?>\n<!-- comment --><?pi data?>\n<root a="1"><child/></root>',
]
_ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "utf-8-sig"]


_DOCTYPES = [
    "<!DOCTYPE r>",
    '<!DOCTYPE r [<!ENTITY a "b">]>',
    '<!DOCTYPE r SYSTEM "http://127.0.0.1:1/x.dtd">',
    '<!DOCTYPE r PUBLIC "-//X//EN" "x.dtd">',
    "<!DOCTYPE r [<!ENTITY % p 'x'>]>",
    "<!doctype r>",  # not a DOCTYPE for XML (case matters): a syntax error
]
_PROLOG_PARTS = st.sampled_from([
    "", " ", "\n", "\r\n\t", "<!-- c -->", "<!-- <!DOCTYPE r [<!ENTITY a 'b'>]> -->",
    "<?pi <!DOCTYPE r>?>", "<?xml-stylesheet href='s.xsl'?>",
])


@st.composite
def _xml_documents(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A structured XML document and whether it declares a DOCTYPE in its prolog."""
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]))
    declared = draw(st.sampled_from([None, encoding, "UTF-8", "UTF-16", "ISO-8859-1",
                                     "windows-1252", "us-ascii", "x-bogus", "shift_jis"]))
    parts = []
    if declared is not None or draw(st.booleans()):
        decl = '<?xml version="1.0"'
        if declared is not None:
            decl += f' encoding="{declared}"'
        parts.append(decl + draw(st.sampled_from(["", ' standalone="yes"'])) + "?>")
    parts += draw(st.lists(_PROLOG_PARTS, max_size=3))
    doctype = draw(st.one_of(st.none(), st.sampled_from(_DOCTYPES)))
    if doctype is not None:
        parts.append(doctype)
    parts += draw(st.lists(_PROLOG_PARTS, max_size=2))
    attr = draw(st.sampled_from(["", ' a="&lt;!DOCTYPE x&gt;"', " xmlns='urn:x'"]))
    body = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
    body = body.replace("&", "&amp;").replace("<", "&lt;")
    parts.append(f"<r{attr}>{body}<c/></r>")
    text = "".join(parts)
    data = text.encode(encoding, "replace")
    if encoding == "utf-16" or draw(st.booleans()) and encoding == "utf-8":
        data = (b"\xef\xbb\xbf" if encoding == "utf-8" else b"") + data
    return data, doctype is not None and doctype != "<!doctype r>"


def _xml_inputs() -> st.SearchStrategy[bytes]:
    real = st.builds(lambda text, enc: text.encode(enc, "replace"),
                     st.sampled_from(_PROLOGS), st.sampled_from(_ENCODINGS))
    structured = _xml_documents().map(lambda pair: pair[0])
    return st.one_of(
        st.binary(max_size=512),
        st.text(max_size=200).map(lambda t: ("<" + t).encode("utf-8", "surrogatepass")),
        real,
        real.flatmap(lambda base: mutated(base, (0, 5, 20, 40))),
        structured,
        structured.flatmap(lambda base: mutated(base, (0, 2, 20, 40, 60))),
    )


@_fuzz(150)
@given(pair=_xml_documents(), split=st.integers(1, 200))
def test_xml_prolog_check_refuses_every_doctype(pair: tuple[bytes, bool], split: int) -> None:
    document, has_doctype = pair
    ok, result = _outcome(
        lambda: guards._check_xml_prolog(document[:split], io.BytesIO(document[split:]), "member 'x'")
    )
    if has_doctype:
        assert not ok, document
    if ok:
        assert not _lxml_doctype(document), document


def _lxml_doctype(document: bytes) -> str | None:
    """The DOCTYPE lxml (which python-docx/openpyxl use) sees, or None if it cannot parse."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        tree = etree.fromstring(document, parser).getroottree()
    except Exception:  # noqa: BLE001 - not well-formed for lxml: nothing to compare
        return None
    return tree.docinfo.doctype or ""


@_fuzz(150)
@given(document=_xml_inputs(), split=st.integers(0, 600))
def test_xml_prolog_check_classifies_and_agrees_with_lxml(document: bytes, split: int) -> None:
    looks = guards._looks_like_xml(document)
    assert isinstance(looks, bool)
    head, rest = document[:split], io.BytesIO(document[split:])
    if not head:
        head, rest = document, io.BytesIO(b"")
    ok, result = _outcome(lambda: guards._check_xml_prolog(head, rest, "member 'x.xml'"))
    if ok:
        assert result is None
        # accepted XML that lxml reads must not carry a DOCTYPE for lxml either
        assert not _lxml_doctype(document), document[:200]
    for text in _PROLOGS[:3]:
        if document == text.encode("utf-8"):
            assert not ok and guards.XML_ENTITY_REASON in str(result)


_HTML_PROLOGS = [
    "<!DOCTYPE html>\n<html><body><p>Hi</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html></html>',
    '<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><html>&xxe;</html>',
    '<!DOCTYPE html SYSTEM "http://127.0.0.1:1/evil.dtd"><html></html>',
    "<!doctype html><html><body><!ENTITY a 'b'></body></html>",
]


def _html_inputs() -> st.SearchStrategy[str]:
    real = st.sampled_from(_HTML_PROLOGS)
    return st.one_of(
        st.text(max_size=300),
        st.builds(lambda a, b: a + b, st.sampled_from(["<!DOCTYPE", "<!doctype ", "<! ENTITY",
                                                       "<!DOCTYPE html '"]), st.text(max_size=200)),
        real,
        real.flatmap(lambda base: mutated(base.encode(), (0, 10, 20))).map(
            lambda b: b.decode("utf-8", "replace")),
    )


@_fuzz(150)
@given(text=_html_inputs())
def test_check_html_declarations_classifies(text: str) -> None:
    ok, result = _outcome(lambda: guards.check_html_declarations(text))
    if ok:
        assert result is None
        assert not guards._HTML_ENTITY.search(text)
    if text in _HTML_PROLOGS[2:]:
        assert not ok
    if text in _HTML_PROLOGS[:2]:
        assert ok


# -- 4. the text decoder -------------------------------------------------------------------------
_BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x00\x00\xfe\xff"]


def _safe_encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, "replace")


@_fuzz(150)
@given(data=st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda bom, b: bom + b, st.sampled_from(_BOMS), st.binary(max_size=512)),
    st.builds(_safe_encode, st.text(max_size=300),
              st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig",
                               "latin-1", "cp1252", "shift_jis", "utf-32"])),
    st.builds(lambda t, n: (t + "\x00" * n).encode("utf-8", "replace"), st.text(max_size=80),
              st.integers(0, 40)),
))
def test_decode_text_returns_text_or_classified_error(data: bytes) -> None:
    ok, result = _outcome(lambda: up.decode_text(data))
    if ok:
        assert isinstance(result, str)
        assert "\x00" not in result
    else:
        assert str(result).startswith("not a text file")


_CLEAN_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=300)


@_fuzz(100)
@given(text=_CLEAN_TEXT, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_decode_text_round_trips_clean_text(text: str, encoding: str) -> None:
    data = text.encode(encoding)
    if encoding == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]  # a leading U+FEFF is a BOM
    assert up.decode_text(data) == text


# -- 5. the chunker ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real bundled embedding model's embedder (the model loads once per process)."""
    from retrieval.backends.sentence_transformers import SentenceTransformersEmbedder
    from tests.conftest import make_settings

    embedding = make_settings(tmp_path_factory.mktemp("fuzz_data") / "data").embedding
    emb = SentenceTransformersEmbedder(embedding)
    emb.warm_up()
    return emb


_WORDS = ["leave", "policy", "EUR", "45", "Straße", "日本語", "naïve", "e\u0301", "🙂", "|", "-",
          "\t", "\n", "  ", "\u200b", "\ufffd", "\x00", "x" * 300, "antidisestablishment"]
_BLOCK_TEXT = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(_WORDS), max_size=120).map(" ".join),
    st.builds(lambda w, n: w * n, st.sampled_from(["x", "ab ", "日", "a.", "\n\n", " "]),
              st.integers(0, 2500)),
    st.sampled_from(["", " ", "\n\n", "\u3000"]),
)
_BLOCK = st.builds(
    Block,
    text=_BLOCK_TEXT,
    kind=st.sampled_from(["title", "text", "table", "text"]),
    page=st.one_of(st.none(), st.integers(1, 3)),
    depth=st.one_of(st.none(), st.integers(-1, 8)),
)
_BASE_BLOCKS = [
    Block("Leave policy", "title", page=1, depth=0),
    Block("Annual leave is 28 days for every employee.", "text", page=1),
    Block("Sick leave", "title", page=1, depth=1),
    Block(" ".join(f"Sentence {i} about sick leave rules." for i in range(60)), "text", page=1),
    Block("Days | Kind\n28 | annual\n10 | sick", "table", page=2),
    Block("Closing remark.", "text", page=2),
]


@st.composite
def _mutated_blocks(draw: st.DrawFn) -> list[Block]:
    blocks = list(_BASE_BLOCKS)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "retype"]))
        pos = draw(st.integers(0, len(blocks)))
        if op == "insert" or not blocks:
            blocks.insert(pos, draw(_BLOCK))
            continue
        pos = min(pos, len(blocks) - 1)
        if op == "delete":
            del blocks[pos]
        elif op == "replace":
            blocks[pos] = draw(_BLOCK)
        else:
            old = blocks[pos]
            blocks[pos] = Block(old.text, draw(st.sampled_from(["title", "text", "table"])),
                                draw(st.one_of(st.none(), st.integers(1, 3))),
                                draw(st.one_of(st.none(), st.integers(0, 3))))
    return blocks


def _assert_chunks(embedder, chunking: ChunkingSettings, blocks: list[Block]) -> None:  # type: ignore[no-untyped-def]
    from ingest.chunker import TokenChunker, embed_text_for

    chunker = TokenChunker(chunking, embedder)
    document = ParsedDocument(blocks=blocks)
    chunks = chunker.chunk(document)  # must never raise
    text = document.text
    limit = min(chunking.max_tokens, embedder.max_tokens)
    assert chunker.limit == limit
    previous_start = 0
    for c in chunks:
        assert embedder.count_tokens(c.embed_text) <= limit, (limit, c.embed_text[:120])
        assert c.token_count == embedder.count_tokens(c.embed_text)
        assert c.embed_text == embed_text_for(c.heading_path, c.text)
        assert text[c.char_start : c.char_end] == c.text, (c.char_start, c.char_end)
        assert c.text.strip()
        assert c.char_start >= previous_start  # document order
        previous_start = c.char_start
    if any(b.text.strip() and b.kind != "title" for b in blocks):
        assert chunks, "text was dropped"
    assert BLOCK_SEPARATOR == "\n\n"


_CHUNKING = st.builds(
    lambda max_tokens, overlap: ChunkingSettings(max_tokens=max_tokens,
                                                 overlap_tokens=min(overlap, max_tokens - 1)),
    st.sampled_from([16, 24, 40, 96, 256, 512]),
    st.integers(0, 64),
)


@pytest.mark.integration
@_fuzz(100)
@given(chunking=_CHUNKING, blocks=st.one_of(st.lists(_BLOCK, max_size=10), _mutated_blocks()))
def test_chunker_respects_the_limit_on_random_blocks(  # type: ignore[no-untyped-def]
    embedder, chunking: ChunkingSettings, blocks: list[Block]
) -> None:
    _assert_chunks(embedder, chunking, blocks)


@pytest.mark.integration
@_fuzz(60)
@given(chunking=_CHUNKING, text=st.text(max_size=3000),
       kind=st.sampled_from(["text", "table"]))
def test_chunker_respects_the_limit_on_random_unicode(  # type: ignore[no-untyped-def]
    embedder, chunking: ChunkingSettings, text: str, kind: str
) -> None:
    _assert_chunks(embedder, chunking, [Block(text, kind, page=1)])


# -- inputs the properties found (kept as fixed regressions) -------------------------------------
def test_found_parser_inputs_fail_with_a_reason(scratch) -> None:  # type: ignore[no-untyped-def]
    def zipped(members: dict[str, bytes]) -> bytes:
        return _build_zip([(n, c, zipfile.ZIP_DEFLATED) for n, c in members.items()])

    good = zipped({"word/document.xml": b"<r>" + b"text " * 200 + b"</r>", "_rels/.rels": b"<r/>"})
    start = good.index(b"word/document.xml") + len(b"word/document.xml")
    corrupt = good[:start] + bytes(b ^ 0xFF for b in good[start : start + 8]) + good[start + 8 :]
    nul_name = good.replace(b"_rels/.rels", b"\x00rels/.rels")  # zipfile cuts the name at NUL
    cases = {
        "corrupt deflate stream (zlib.error)": (corrupt, "broken zip container"),
        "member name starting with NUL (IndexError)": (nul_name, "empty name"),
        "unknown XML encoding (LookupError)": (
            zipped({"word/document.xml": b"<?xml version='1.0' encoding='x'?><r/>"}),
            "unsupported XML encoding"),
        "multi-byte codec XML encoding (ValueError)": (
            zipped({"word/document.xml": '<?xml version="1.0" encoding="utf-16-le"?><r/>'
                    .encode("utf-16-le")}), "unsupported XML encoding"),
    }
    for case, (content, reason) in cases.items():
        with pytest.raises(IngestError) as err:
            guards._check_zip(scratch("found.docx", content), "docx")
        assert reason in str(err.value), (case, str(err.value))
        _assert_classified(err.value)


@pytest.mark.integration
def test_found_chunker_inputs_fit_the_limit(embedder) -> None:  # type: ignore[no-untyped-def]
    # a blank block between two others tripped an assert in _flush
    _assert_chunks(embedder, ChunkingSettings(max_tokens=96, overlap_tokens=8),
                   [Block("a", "text"), Block(" ", "text"), Block("b", "text")])
    # the smallest allowed limit under a long heading: range() step 0 in _hard_split, and
    # chunks over the limit because the heading prefix alone exceeded it
    _assert_chunks(embedder, ChunkingSettings(max_tokens=16, overlap_tokens=0),
                   [Block("Heading " * 40, "title"), Block("word " * 200, "text")])
