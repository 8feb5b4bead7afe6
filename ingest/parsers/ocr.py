"""OCR with Tesseract (Debian's ``tesseract-ocr`` package): scanned PDF pages and images.

Runs inside the parser sandbox worker, so a file's OCR is bound by its limits: the wall-clock
limit kills the worker's process group (Tesseract included), and Tesseract inherits the
worker's address-space limit (``RLIMIT_AS``). Only Pillow decodes an uploaded image's bytes
(restricted to the format its name claims, with a pixel limit); Tesseract reads a plain
greyscale PNM written here, over a pipe, so no file name or user input reaches its command line.

- ``ingest.ocr``: ``auto`` uses Tesseract when the ``tesseract`` binary and the data of every
  language in ``ingest.ocr_languages`` are installed; otherwise a file that needs OCR fails
  with a reason naming the Debian package to install. ``off`` never runs it.
- every page is read on its own (``tesseract ... tsv``); words become paragraphs (Tesseract's
  blocks and paragraphs, lines joined by a space), each a :class:`Block` with the page number
  and the mean word confidence (0-100, weighted by word length) in ``Block.ocr_confidence``.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.types import Block, IngestError, ParsedDocument

log = logging.getLogger(__name__)

TESSERACT = "tesseract"
PACKAGE = "tesseract-ocr"
RENDER_DPI = 300  # PDF pages are rendered at this resolution for OCR
PAGE_TIMEOUT_S = 300.0  # default of ingest.ocr_page_timeout_s; ingest.sandbox.timeout_s bounds the file
MAX_IMAGE_PIXELS = 100_000_000  # an image (or TIFF frame) larger than this is refused
MIN_WORD_CONFIDENCE = 0.0  # Tesseract's -1 marks non-word rows
LANGUAGES_RE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")
_PIL_FORMATS = {"png": ["PNG"], "jpeg": ["JPEG", "MPO"], "tiff": ["TIFF"]}
# One thread: the worker shares the host's cores with embedding and the web process.
_ENV = {"OMP_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1"}


def language_package(language: str) -> str:
    """The Debian package that carries a Tesseract language (``eng`` -> tesseract-ocr-eng)."""
    return f"{PACKAGE}-{language.lower().replace('_', '-')}"


@functools.lru_cache(maxsize=8)
def _installed_languages(binary: str) -> frozenset[str] | None:
    """Languages ``tesseract --list-langs`` reports (None when the binary cannot run)."""
    try:
        proc = subprocess.run(  # noqa: S603 - fixed arguments
            [binary, "--list-langs"], capture_output=True, timeout=30, check=False,
            env={**os.environ, **_ENV},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.decode("utf-8", errors="replace").splitlines()
    return frozenset(ln.strip() for ln in lines[1:] if ln.strip())  # line 1: "List of ..."


@dataclass(frozen=True, slots=True)
class OcrPage:
    """The paragraphs Tesseract read on one page and the page's mean word confidence."""

    blocks: list[Block]
    confidence: float | None


class Ocr:
    """Tesseract for one language setting; :attr:`reason` says why it cannot run (else None).

    ``page_timeout_s`` (``ingest.ocr_page_timeout_s``) bounds the seconds one page may take.
    """

    def __init__(self, mode: str = "auto", languages: str = "eng",
                 binary: str | None = None, page_timeout_s: float = PAGE_TIMEOUT_S) -> None:
        if not LANGUAGES_RE.match(languages):
            raise ValueError(f"invalid OCR languages {languages!r} (e.g. 'eng' or 'eng+deu')")
        if not page_timeout_s > 0:
            raise ValueError(f"invalid OCR page timeout {page_timeout_s!r} "
                             "(ingest.ocr_page_timeout_s must be above 0)")
        self.mode = mode
        self.languages = languages
        self.binary = binary or TESSERACT
        self.page_timeout_s = float(page_timeout_s)

    @functools.cached_property
    def reason(self) -> str | None:
        """None when OCR can run; else a sentence saying what to change or install."""
        if self.mode == "off":
            return "OCR is off (ingest.ocr)"
        wanted = self.languages.split("+")
        packages = " ".join([PACKAGE, *(language_package(lang) for lang in wanted)])
        path = shutil.which(self.binary)
        if path is None:
            return (f"OCR needs Tesseract, which is not installed: install the Debian "
                    f"packages {packages} (ingest.ocr_languages: {self.languages})")
        installed = _installed_languages(path)
        if installed is None:
            return f"OCR needs Tesseract, but {path} --list-langs failed (reinstall {PACKAGE})"
        missing = [lang for lang in wanted if lang not in installed]
        if missing:
            need = " ".join(language_package(lang) for lang in missing)
            return (f"the OCR language data for {', '.join(missing)} (ingest.ocr_languages) "
                    f"is not installed: install the Debian package {need}")
        return None

    @property
    def available(self) -> bool:
        """Whether Tesseract and the data of every configured language are installed."""
        return self.reason is None

    def require(self, what: str) -> None:
        """Raise :class:`IngestError` saying ``what`` needs OCR when it cannot run."""
        if self.reason is not None:
            raise IngestError(f"{what} needs OCR, but {self.reason}")

    def read(self, image: Any, page: int, dpi: int | None = None) -> OcrPage:
        """OCR one page image (a Pillow image); blocks carry ``page`` and their confidence."""
        self.require("this page")
        grey = image if image.mode == "L" else image.convert("L")
        buf = io.BytesIO()
        grey.save(buf, format="PPM")  # binary PGM: no compression to spend time on
        cmd = [shutil.which(self.binary) or self.binary, "stdin", "stdout",
               "-l", self.languages, "--psm", "3"]
        if dpi:
            cmd += ["--dpi", str(int(dpi))]
        cmd.append("tsv")
        try:
            proc = subprocess.run(  # noqa: S603 - fixed arguments, validated languages
                cmd, input=buf.getvalue(), capture_output=True, timeout=self.page_timeout_s,
                check=False, env={**os.environ, **_ENV},
            )
        except subprocess.TimeoutExpired as exc:
            raise IngestError(f"OCR of page {page} took longer than {self.page_timeout_s:g} s "
                              "(ingest.ocr_page_timeout_s)") from exc
        except OSError as exc:
            raise IngestError(f"OCR could not run Tesseract: {exc}") from exc
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.decode("utf-8", errors="replace").split())[-300:]
            if proc.returncode < 0 or "alloc" in detail.lower():
                detail = f"{detail} (exit {proc.returncode}; ingest.sandbox.memory_mb)"
            raise IngestError(f"OCR of page {page} failed: {detail or proc.returncode}")
        return parse_tsv(proc.stdout.decode("utf-8", errors="replace"), page)


def parse_tsv(tsv: str, page: int) -> OcrPage:
    """Paragraph blocks (lines joined by a space) from Tesseract's TSV output."""
    paragraphs: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) != 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < MIN_WORD_CONFIDENCE:
            continue
        paragraphs.setdefault((cols[2], cols[3]), []).append((word, conf))
    blocks: list[Block] = []
    weighted = total = 0.0
    for words in paragraphs.values():
        text = " ".join(w for w, _ in words)
        if not any(ch.isalnum() for ch in text):
            continue  # specks and table rules read as punctuation
        chars = sum(len(w) for w, _ in words)
        score = sum(len(w) * c for w, c in words)
        blocks.append(Block(text=text, kind="text", page=page,
                            ocr_confidence=round(score / chars, 1)))
        weighted += score
        total += chars
    return OcrPage(blocks, round(weighted / total, 1) if total else None)


def _frames(image: Any) -> Iterator[Any]:
    from PIL import ImageSequence

    yield from ImageSequence.Iterator(image)


def ocr_image_file(path: Path, file_type: str, ocr: Ocr,
                   max_pages: int | None = None) -> ParsedDocument:
    """An image file (PNG, JPEG, TIFF; every TIFF frame a page) read with OCR."""
    from PIL import Image

    ocr.require(f"an image ({file_type.upper()}) file")
    label = file_type.upper()
    try:
        image = Image.open(path, formats=_PIL_FORMATS[file_type])
    except Image.DecompressionBombError as exc:
        raise IngestError(f"the {label} image is too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise IngestError(f"not a valid {label} image: {' '.join(str(exc).split())[:200]}") from exc
    with image:
        pages = int(getattr(image, "n_frames", 1) or 1)
        if max_pages is not None and pages > max_pages:
            raise IngestError(f"the {label} file has {pages} pages (limit {max_pages}, "
                              "ingest.sandbox.max_pages)")
        blocks: list[Block] = []
        for number, frame in enumerate(_frames(image), start=1):
            width, height = frame.size
            if width * height > MAX_IMAGE_PIXELS:
                raise IngestError(f"the {label} image is {width} x {height} pixels "
                                  f"(limit {MAX_IMAGE_PIXELS // 1_000_000} megapixels)")
            dpi = _dpi(frame)
            try:
                frame.load()
                grey = frame.convert("L")
            except (OSError, SyntaxError, ValueError) as exc:
                reason = " ".join(str(exc).split())[:200]
                raise IngestError(f"not a valid {label} image: {reason}") from exc
            blocks.extend(ocr.read(grey, number, dpi).blocks)
    return ParsedDocument(blocks=blocks, num_pages=pages, ocr_pages=pages)


def _dpi(image: Any) -> int | None:
    """The image's resolution when it states a plausible one (else Tesseract estimates it)."""
    dpi = image.info.get("dpi")
    try:
        value = int(round(float(dpi[0]))) if dpi else 0
    except (TypeError, ValueError, IndexError):
        return None
    return value if 70 <= value <= 1200 else None
