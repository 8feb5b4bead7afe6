"""Build the ingestor on top of a retrieval stack."""

from __future__ import annotations

from ingest.chunker import TokenChunker
from ingest.pipeline import Ingestor
from ingest.unstructured_parser import UnstructuredParser
from retrieval.stack import RetrievalStack


def build_ingestor(stack: RetrievalStack) -> Ingestor:
    """An :class:`Ingestor` sharing the stack's catalog, embedder and index."""
    return Ingestor(
        stack.settings,
        stack.sessions,
        stack.embedder,
        stack.index,
        UnstructuredParser(),
        TokenChunker(stack.settings.chunking, stack.embedder),
    )
