"""Embeddings are batched across files, and parsing runs ahead of embedding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


class FakeCountingEmbedder:
    """Wraps the real embedder and records each embed_documents call."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.calls: list[int] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.real, name)

    def embed_documents(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.calls.append(len(texts))
        return self.real.embed_documents(texts)


class FakeSlowParser:
    """Wraps the real parser, records when each parse starts (for the overlap check)."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.started: list[float] = []

    def parse(self, path, file_type):  # type: ignore[no-untyped-def]
        self.started.append(time.monotonic())
        return self.real.parse(path, file_type)


def test_embedding_is_batched_across_files_and_overlaps_parsing(stack, ingestor, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = []
    for i in range(12):
        path = tmp_path / f"note-{i:02d}.md"
        path.write_text(f"# Note {i}\n\nThe shuttle bus number {i} leaves at {7 + i % 5}:15.\n")
        files.append((path, path.name))
    counting = FakeCountingEmbedder(stack.embedder)
    parser = FakeSlowParser(ingestor._parser)  # noqa: SLF001
    ingestor._embedder = counting  # noqa: SLF001
    ingestor._parser = parser  # noqa: SLF001
    embed_windows: list[tuple[float, float]] = []
    real_embed = counting.embed_documents

    def timed(texts):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        try:
            return real_embed(texts)
        finally:
            embed_windows.append((start, time.monotonic()))
            time.sleep(0.3)  # give the parser thread room to run ahead during "embedding"

    counting.embed_documents = timed  # type: ignore[method-assign]
    results = ingestor.ingest_paths(files, "c")
    assert [r.status for r in results] == ["added"] * 12
    assert sum(counting.calls) == sum(r.chunks for r in results)
    assert len(counting.calls) < len(files), counting.calls  # several files per call
    assert threading.active_count() < 50
    # some parse started while an embedding call (or its pause) was in progress
    first_embed_start = embed_windows[0][0]
    print("calls", counting.calls, "windows", len(embed_windows))
    assert any(t > first_embed_start for t in parser.started), (counting.calls, parser.started)
