"""Ingest throughput: pipelined, cross-file batched embedding vs. one file at a time.

    python bench/ingest_throughput.py [--files 200]

Both runs happen in this process on fresh data dirs with the same models; the result is a
ratio (machines are noisy, ratios less so).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _corpus(folder: Path, n: int) -> list[tuple[Path, str]]:
    rng = random.Random(0)
    words = "policy travel budget laptop leave meeting invoice client audit vendor".split()
    out = []
    for i in range(n):
        body = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(20, 120)))
                           for _ in range(rng.randint(1, 6)))
        path = folder / f"doc-{i:04d}.md"
        path.write_text(f"# Doc {i}\n\n{body}\n")
        out.append((path, path.name))
    return out


def _run(files: list[tuple[Path, str]], batch_chunks: int, prefetch: int) -> tuple[float, int]:
    import ingest.pipeline as pipeline
    from config import load_settings
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    pipeline._EMBED_BATCH_CHUNKS, pipeline._PREFETCH_FILES = batch_chunks, prefetch
    with tempfile.TemporaryDirectory() as tmp:
        stack = build_retrieval(load_settings(overrides={"data_dir": tmp}))
        stack.embedder.warm_up()
        ingestor = build_ingestor(stack)
        warm = getattr(ingestor.parser, "warm_up", None)
        if warm:
            warm()
        t0 = time.perf_counter()
        results = ingestor.ingest_paths(files, "bench")
        seconds = time.perf_counter() - t0
        stack.close()
    return seconds, sum(r.chunks for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args(argv)
    from config import configure_offline

    configure_offline()
    with tempfile.TemporaryDirectory() as corpus:
        files = _corpus(Path(corpus), args.files)
        base_s, chunks = _run(files, batch_chunks=1, prefetch=1)
        new_s, _ = _run(files, batch_chunks=256, prefetch=4)
    print(f"{args.files} files, {chunks} chunks")
    print(f"one file at a time:        {base_s:6.1f} s  ({args.files / base_s:5.1f} files/s)")
    print(f"pipelined + batched:       {new_s:6.1f} s  ({args.files / new_s:5.1f} files/s)")
    print(f"speed-up: {base_s / new_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
