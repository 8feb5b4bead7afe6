"""The parser ``ingest.pdf_parser`` names, sandboxed (``ingest.sandbox``) or in process.

Light to import (the parser classes load only for an in-process parser), so the CLI builds
its parser before it imports anything heavy: the sandbox worker then loads unstructured on
the other core while this process loads the embedder and the index.
"""

from __future__ import annotations

import importlib

from config.settings import Settings
from ingest.types import Parser

PARSERS: dict[str, str] = {
    "pdfium": "ingest.parsers.unstructured:FastPdfParser",  # PDFs by PDFium, the rest by unstructured
    "unstructured": "ingest.parsers.unstructured:UnstructuredParser",
}


def build_parser(settings: Settings) -> Parser:
    """A new parser for ``settings`` (a sandboxed one starts its worker in the background)."""
    ingest = settings.ingest
    sandbox = ingest.sandbox
    name = PARSERS[ingest.pdf_parser]
    options = {"ocr": ingest.ocr, "ocr_languages": ingest.ocr_languages,
               "ocr_page_timeout_s": ingest.ocr_page_timeout_s}
    if sandbox.enabled:
        from ingest.parsers.sandbox import SandboxedParser

        return SandboxedParser(sandbox, parser=name, options=options)
    module, _, cls_name = name.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    parser: Parser = cls(max_pages=sandbox.max_pages,
                         max_text_chars=int(sandbox.max_output_mb * 2**20), **options)
    return parser
