"""Build the ingestor on top of a retrieval stack."""

from __future__ import annotations

from ingest.chunker import TokenChunker
from ingest.parsers.factory import build_parser
from ingest.pipeline import Ingestor
from ingest.types import Parser
from retrieval.stack import RetrievalStack


def build_ingestor(stack: RetrievalStack, parser: Parser | None = None) -> Ingestor:
    """An :class:`Ingestor` sharing the stack's catalog, embedder and index.

    ``parser``: one already built (:func:`ingest.parsers.factory.build_parser`), else a new one.
    """
    return Ingestor(
        stack.settings,
        stack.sessions,
        stack.embedder,
        stack.index,
        parser if parser is not None else build_parser(stack.settings),
        TokenChunker(stack.settings.chunking, stack.embedder),
    )
