"""Build the ingestor on top of a retrieval stack."""

from __future__ import annotations

from ingest.chunker import TokenChunker
from ingest.parsers.unstructured import FastPdfParser, UnstructuredParser
from ingest.pipeline import Ingestor
from ingest.types import Parser
from retrieval.stack import RetrievalStack

PARSERS: dict[str, type[UnstructuredParser]] = {
    "pdfium": FastPdfParser,  # PDFs by PDFium, the rest by unstructured
    "unstructured": UnstructuredParser,
}


def build_parser(stack: RetrievalStack) -> Parser:
    """The parser named by ``ingest.pdf_parser``, sandboxed (``ingest.sandbox``) or in-process."""
    ingest = stack.settings.ingest
    sandbox = ingest.sandbox
    cls = PARSERS[ingest.pdf_parser]
    options = {"ocr": ingest.ocr, "ocr_languages": ingest.ocr_languages,
               "ocr_page_timeout_s": ingest.ocr_page_timeout_s}
    if sandbox.enabled:
        from ingest.parsers.sandbox import SandboxedParser

        return SandboxedParser(sandbox, parser=f"{cls.__module__}:{cls.__name__}",
                               options=options)
    return cls(max_pages=sandbox.max_pages, max_text_chars=int(sandbox.max_output_mb * 2**20),
               **options)


def build_ingestor(stack: RetrievalStack) -> Ingestor:
    """An :class:`Ingestor` sharing the stack's catalog, embedder and index."""
    return Ingestor(
        stack.settings,
        stack.sessions,
        stack.embedder,
        stack.index,
        build_parser(stack),
        TokenChunker(stack.settings.chunking, stack.embedder),
    )
