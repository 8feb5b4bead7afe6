"""Embedding backends against each other: throughput and closeness to float32, same process.

    python bench/embedding_backends.py                 # 1,200 zsh_faq passages, 3 rounds
    python bench/embedding_backends.py --set curl_faq --passages 600 --rounds 5

The passages are chunked from an evaluation set by Enclave's own chunker (what ingest embeds:
heading path + text). Every backend of ``embedding.backend`` that this machine can run embeds
the same passages in alternating order each round; the figures are medians and ratios
against ONNX Runtime int8 (the machines are shared and noisy). Closeness is the cosine of each
passage's vector to the float32 ONNX Runtime vector (mean and minimum), and query latency the
median / p95 of embedding one short question. Writes bench/results/embedding-backends.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = ["How do I change the prompt?",
             "What does the extended_glob option do to patterns with a caret?"]


def _passages(set_name: str, limit: int) -> list[str]:
    """Embed texts of the set's documents, as ingest makes them (first ``limit``)."""
    from bench.harness import discover_sets
    from config import load_settings
    from ingest.chunker import TokenChunker
    from ingest.stack import build_ingestor
    from ingest.types import file_type_for
    from retrieval.stack import build_retrieval

    evalset = discover_sets(names=[set_name])[0]
    with tempfile.TemporaryDirectory() as tmp:
        stack = build_retrieval(load_settings(overrides={"data_dir": tmp}))
        ingestor = build_ingestor(stack)
        chunker = TokenChunker(stack.settings.chunking, stack.embedder)
        texts: list[str] = []
        for path in evalset.corpus_files():
            parsed = ingestor.parser.parse(path, file_type_for(path.name) or "txt")
            texts += [d.embed_text or d.text for d in chunker.chunk(parsed)]
            if len(texts) >= limit:
                break
        stack.close()
    return texts[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="zsh_faq")
    parser.add_argument("--passages", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "embedding-backends.json")
    args = parser.parse_args(argv)

    import numpy as np

    from config import configure_offline, load_settings
    from config.settings import EmbeddingSettings
    from retrieval.backends.onnx import OnnxEmbedder
    from retrieval.backends.openvino import (
        OpenVinoEmbedder,
        OpenVinoInt8Embedder,
        openvino_available,
        openvino_bf16_available,
    )

    configure_offline()
    cache = load_settings().models_dir
    texts = _passages(args.set, args.passages)
    backends: dict[str, Any] = {
        "onnx-int8": OnnxEmbedder(EmbeddingSettings(backend="onnx-int8"), cache, quantize=True),
        "onnx": OnnxEmbedder(EmbeddingSettings(backend="onnx"), cache, quantize=False),
        "openvino-f32": OpenVinoEmbedder(EmbeddingSettings(backend="openvino"), cache, "f32"),
    }
    if openvino_bf16_available():
        backends["openvino-bf16"] = OpenVinoEmbedder(EmbeddingSettings(backend="openvino"),
                                                     cache, "bf16")
    if openvino_available():
        backends["openvino-int8"] = OpenVinoInt8Embedder(
            EmbeddingSettings(backend="openvino-int8"), cache)
    for emb in backends.values():
        emb.warm_up()
        emb.embed_documents(texts[:64])
    seconds: dict[str, list[float]] = {name: [] for name in backends}
    vectors: dict[str, Any] = {}
    names = list(backends)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            vectors[name] = backends[name].embed_documents(texts)
            seconds[name].append(time.perf_counter() - t0)
    reference = vectors["onnx"]
    base = statistics.median(seconds["onnx-int8"])
    rows: dict[str, Any] = {}
    for name, emb in backends.items():
        cos = (vectors[name] * reference).sum(axis=1)
        lat = []
        for q in QUESTIONS * 25:
            t0 = time.perf_counter()
            emb.embed_query(q)
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        median_s = statistics.median(seconds[name])
        rows[name] = {"seconds_median": round(median_s, 2),
                      "passages_per_s": round(len(texts) / median_s, 1),
                      "speed_vs_onnx_int8": round(base / median_s, 2),
                      "cosine_to_fp32_mean": round(float(np.mean(cos)), 4),
                      "cosine_to_fp32_min": round(float(np.min(cos)), 4),
                      "query_ms_median": round(statistics.median(lat), 2),
                      "query_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 2)}
        print(f"{name:14s} {rows[name]['passages_per_s']:7.1f} passages/s  "
              f"{rows[name]['speed_vs_onnx_int8']:.2f}x int8  cosine to fp32 mean "
              f"{rows[name]['cosine_to_fp32_mean']:.4f} min {rows[name]['cosine_to_fp32_min']:.4f}"
              f"  query {rows[name]['query_ms_median']:.2f} ms (p95 {rows[name]['query_ms_p95']:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"set": args.set, "passages": len(texts),
                                    "rounds": args.rounds, "backends": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
