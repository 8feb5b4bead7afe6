"""OCR with Tesseract on generated scans: scanned and mixed PDFs, PNG and TIFF images.

The scans are rendered here with Pillow (text, a ruled table, rotated 1.5 degrees like a page
fed slightly askew), so no fixture files are needed. Tests that run Tesseract are skipped
when it is not installed (``make system-deps`` installs tesseract-ocr and tesseract-ocr-eng).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from sqlalchemy import select

from ingest.parsers import ocr as ocr_module
from ingest.parsers.ocr import Ocr, parse_tsv
from ingest.parsers.unstructured import FastPdfParser, UnstructuredParser
from ingest.types import Block, IngestError

DPI = 150  # the generated scans' resolution
needs_tesseract = pytest.mark.skipif(
    not Ocr().available, reason=f"{Ocr().reason} (run `make system-deps`)")

PAGE_ONE = [
    "Forklift drivers must wear helmets in warehouse seven.",
    "The inspection found eleven broken pallets near dock four.",
]
TABLE = [("Item", "Count", "Owner"), ("Helmets", "42", "Marta"), ("Gloves", "17", "Jonas")]
PAGE_TWO = [
    "Fire drills happen every March and September.",
    "Assemble at the blue flagpole beside the car park.",
]


def _scan(title: str, lines: list[str], table: list[tuple[str, ...]] | None = None,
          size: tuple[int, int] = (1240, 1754)) -> Image.Image:
    """A page as a scanner delivers it: greyscale, text and a ruled table, slightly rotated."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    body, heading = ImageFont.load_default(size=28), ImageFont.load_default(size=40)
    draw.text((100, 100), title, font=heading, fill=0)
    y = 200
    for line in lines:
        draw.text((100, y), line, font=body, fill=0)
        y += 50
    if table:
        y += 40
        top = y - 10
        for row in table:
            for col, cell in enumerate(row):
                draw.text((120 + col * 300, y), cell, font=body, fill=0)
            draw.line((100, y - 10, 1000, y - 10), fill=0, width=2)
            y += 50
        draw.line((100, y - 10, 1000, y - 10), fill=0, width=2)
        for x in (100, 400, 700, 1000):
            draw.line((x, top, x, y - 10), fill=0, width=2)
    return image.rotate(1.5, resample=Image.Resampling.BICUBIC, fillcolor=255)


def _page_one() -> Image.Image:
    return _scan("Quarterly Safety Report", PAGE_ONE, TABLE)


def _page_two() -> Image.Image:
    return _scan("Evacuation Drills", PAGE_TWO)


def _words(blocks: list[Block], page: int) -> set[str]:
    return {w.strip(".,:;").lower() for b in blocks if b.page == page for w in b.text.split()}


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two image-only pages, as a scanner writes them."""
    path = tmp_path_factory.mktemp("scans") / "scanned.pdf"
    _page_one().save(path, "PDF", save_all=True, append_images=[_page_two()], resolution=DPI)
    return path


@pytest.fixture(scope="module")
def mixed_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Page 1 with a text layer, page 2 a scanned image."""
    path = tmp_path_factory.mktemp("scans") / "mixed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 770, "Canteen opening hours are posted at the main entrance.")
    pdf.drawImage(ImageReader(_page_one()), 20, 700, width=40, height=56)  # a logo-sized image
    pdf.showPage()
    width, height = A4
    pdf.drawImage(ImageReader(_page_two()), 0, 0, width=width, height=height)
    pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def count_ocr(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The page numbers Tesseract is asked to read, in order."""
    pages: list[int] = []
    read = Ocr.read

    def counting(self: Ocr, image: Image.Image, page: int, dpi: int | None = None):  # type: ignore[no-untyped-def]
        pages.append(page)
        return read(self, image, page, dpi)

    monkeypatch.setattr(Ocr, "read", counting)
    return pages


@needs_tesseract
def test_scanned_pdf_is_read_page_by_page(scanned_pdf: Path, count_ocr: list[int]) -> None:
    started = time.perf_counter()
    doc = FastPdfParser().parse(scanned_pdf, "pdf")
    per_page = (time.perf_counter() - started) / 2
    print(f"OCR: {per_page:.2f} s per page")  # noqa: T201 - shown with -s, for the docs
    assert count_ocr == [1, 2] and doc.num_pages == 2
    one, two = _words(doc.blocks, 1), _words(doc.blocks, 2)
    assert {"forklift", "helmets", "warehouse", "inspection", "pallets"} <= one
    assert {"gloves", "jonas", "marta", "17", "42"} <= one  # the table's cells
    assert {"drills", "september", "flagpole", "evacuation"} <= two
    assert not {"drills", "flagpole"} & one and not {"forklift", "gloves"} & two
    assert all(b.kind == "text" and b.ocr_confidence is not None
               and 60 <= b.ocr_confidence <= 100 for b in doc.blocks)
    # The same PDF through the unstructured parser: no text layer, so OCR as well.
    count_ocr.clear()
    via_unstructured = UnstructuredParser().parse(scanned_pdf, "pdf")
    assert count_ocr == [1, 2]
    assert _words(via_unstructured.blocks, 2) == two


@needs_tesseract
def test_mixed_pdf_ocrs_only_the_page_without_text(mixed_pdf: Path, count_ocr: list[int]) -> None:
    doc = FastPdfParser().parse(mixed_pdf, "pdf")
    assert count_ocr == [2]  # page 1 has a text layer (and an image): never OCRed
    assert (doc.ocr_pages, doc.unread_pages) == (1, 0)  # the parse report's OCR pages
    first = [b for b in doc.blocks if b.page == 1]
    assert [b.text for b in first] == ["Canteen opening hours are posted at the main entrance."]
    assert first[0].ocr_confidence is None
    assert {"drills", "september", "flagpole"} <= _words(doc.blocks, 2)
    assert all(b.ocr_confidence is not None for b in doc.blocks if b.page == 2)
    assert [b.page for b in doc.blocks] == sorted(b.page or 0 for b in doc.blocks)


@needs_tesseract
def test_png_and_multipage_tiff(tmp_path: Path) -> None:
    png = tmp_path / "notice.png"
    _page_two().save(png, dpi=(DPI, DPI))
    doc = UnstructuredParser().parse(png, "png")
    assert doc.num_pages == 1 and {"drills", "flagpole"} <= _words(doc.blocks, 1)
    tiff = tmp_path / "fax.tiff"
    small = [_scan("Fax Cover", ["Invoices go to accounting by Friday."], size=(1240, 500)),
             _scan("Second Page", ["Parcels wait at the loading bay."], size=(1240, 500))]
    small[0].save(tiff, save_all=True, append_images=small[1:], compression="tiff_lzw",
                  dpi=(DPI, DPI))
    doc = UnstructuredParser().parse(tiff, "tiff")
    assert doc.num_pages == 2 and doc.ocr_pages == 2
    assert "invoices" in _words(doc.blocks, 1) and "parcels" in _words(doc.blocks, 2)
    with pytest.raises(IngestError, match="limit 1"):
        UnstructuredParser(max_pages=1).parse(tiff, "tiff")


def test_without_tesseract_the_reason_names_the_package(
    scanned_pdf: Path, mixed_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr_module, "TESSERACT", "tesseract-not-installed-here")
    parser = FastPdfParser(ocr_languages="eng+deu")
    with pytest.raises(IngestError, match="install the Debian packages tesseract-ocr "
                                          "tesseract-ocr-eng tesseract-ocr-deu"):
        parser.parse(scanned_pdf, "pdf")
    png = tmp_path / "a.png"
    _page_two().save(png)
    with pytest.raises(IngestError, match="needs OCR.*tesseract-ocr"):
        parser.parse(png, "png")
    # A mixed PDF keeps its text layer; the scanned page is logged as not read.
    doc = parser.parse(mixed_pdf, "pdf")
    assert {b.page for b in doc.blocks} == {1}
    assert (doc.ocr_pages, doc.unread_pages) == (0, 1)  # counted in the parse report
    with pytest.raises(IngestError, match=r"OCR is off \(ingest.ocr\)"):
        FastPdfParser(ocr="off").parse(scanned_pdf, "pdf")


@needs_tesseract
def test_missing_language_names_its_package(scanned_pdf: Path) -> None:
    with pytest.raises(IngestError, match="xyz.*install the Debian package tesseract-ocr-xyz"):
        FastPdfParser(ocr_languages="eng+xyz").parse(scanned_pdf, "pdf")
    with pytest.raises(ValueError, match="invalid OCR languages"):
        Ocr("auto", "eng -c tessedit_write_images=1")


def test_image_pre_checks(tmp_path: Path) -> None:
    fake = tmp_path / "x.png"
    fake.write_bytes(b"%PDF-1.4 not an image")
    with pytest.raises(IngestError, match="not a valid PNG image file"):
        UnstructuredParser().parse(fake, "png")
    jpeg_named_png = tmp_path / "y.png"
    Image.new("L", (10, 10), 255).save(jpeg_named_png, format="JPEG")
    with pytest.raises(IngestError, match="not a valid PNG image file"):
        UnstructuredParser().parse(jpeg_named_png, "png")


def test_tsv_paragraphs_and_confidence() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t80\tworld.",
        "4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t",
        "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t40\t|",  # a table rule read as a bar
        "5\t1\t3\t1\t1\t1\t0\t0\t1\t1\t70\tBye",
    ]
    page = parse_tsv("\n".join([header, *rows]), 4)
    assert [(b.text, b.page, b.ocr_confidence) for b in page.blocks] == [
        ("Hello world.", 4, round((5 * 90 + 6 * 80) / 11, 1)), ("Bye", 4, 70.0)]
    assert page.confidence == round((5 * 90 + 6 * 80 + 3 * 70) / 14, 1)


@needs_tesseract
@pytest.mark.integration
def test_png_is_ingested_searchable_with_confidence(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from db.models import Chunk, Document

    png = tmp_path / "safety.png"
    _page_one().save(png, dpi=(DPI, DPI))
    result = ingestor.ingest_file(png, "c")  # through the parser sandbox (test settings)
    assert result.status == "added", result.error
    hits = stack.retriever.search("Who owns the gloves?", "c", 5)
    assert hits and "Jonas" in " ".join(h.text for h in hits)
    with stack.sessions() as s:
        doc = s.scalar(select(Document).where(Document.name == "safety.png"))
        assert doc.file_type == "png" and doc.num_pages == 1
        chunks = s.scalars(select(Chunk).where(Chunk.document_id == doc.id)).all()
    assert chunks and all(c.page == 1 and c.ocr_confidence is not None
                          and 60 <= c.ocr_confidence <= 100 for c in chunks)


def test_sandbox_reply_carries_the_confidence_and_checks_it() -> None:
    from ingest.parsers.sandbox_process import _document

    doc = _document({"num_pages": 2, "blocks": [["Read by OCR", "text", 2, None, 88.5],
                                                ["From the text layer", "text", 1, None]]})
    assert [b.ocr_confidence for b in doc.blocks] == [88.5, None]
    for bad in (True, 150, -1, "90", None):
        item = ["x", "text", 1, None, bad] if bad is not None else ["x", "text", 1, None, 1, 2]
        with pytest.raises(IngestError, match="unreadable reply"):
            _document({"blocks": [item]})


def _slow_tesseract(folder: Path) -> Path:
    """A stand-in ``tesseract`` that lists English and then takes 30 s over every page."""
    fake = folder / "tesseract"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --list-langs ]; then\n"
                    "  echo 'List of available languages (1):'; echo eng; exit 0\nfi\n"
                    "exec sleep 30\n", encoding="utf-8")
    fake.chmod(0o755)
    return fake


def test_a_slow_page_fails_naming_the_page_timeout_setting(tmp_path: Path) -> None:
    ocr = Ocr("auto", "eng", binary=str(_slow_tesseract(tmp_path)), page_timeout_s=0.5)
    assert ocr.available and ocr.page_timeout_s == 0.5
    started = time.perf_counter()
    with pytest.raises(IngestError, match=r"^OCR of page 3 took longer than 0\.5 s "
                                          r"\(ingest\.ocr_page_timeout_s\)$"):
        ocr.read(Image.new("L", (40, 40), 255), 3)
    assert time.perf_counter() - started < 10
    assert Ocr().page_timeout_s == 300.0  # the default, as in config/settings.yaml
    with pytest.raises(ValueError, match="ingest.ocr_page_timeout_s"):
        Ocr(page_timeout_s=0)


@pytest.mark.integration
def test_the_page_timeout_setting_reaches_the_sandboxed_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import ConfigError
    from ingest.parsers.factory import build_parser
    from tests.conftest import make_settings

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _slow_tesseract(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ENCLAVE_INGEST__OCR_PAGE_TIMEOUT_S", "0.5")
    settings = make_settings(tmp_path / "data")
    assert settings.ingest.ocr_page_timeout_s == 0.5
    png = tmp_path / "notice.png"
    _page_two().save(png, dpi=(DPI, DPI))
    parser = build_parser(settings)
    try:
        with pytest.raises(IngestError, match=r"OCR of page 1 took longer than 0\.5 s "
                                              r"\(ingest\.ocr_page_timeout_s\)"):
            parser.parse(png, "png")
    finally:
        getattr(parser, "close", lambda: None)()
    monkeypatch.setenv("ENCLAVE_INGEST__OCR_PAGE_TIMEOUT_S", "0")
    with pytest.raises(ConfigError, match=r"ingest\.ocr_page_timeout_s: Input should be "
                                          r"greater than 0 .*ENCLAVE_INGEST__OCR_PAGE_TIMEOUT_S"):
        make_settings(tmp_path / "data")
