"""Ingest speed: Enclave's ``python -m ingest`` against the plain LangChain recipe, end to end.

    python bench/ingest_speed.py                  # the largest evaluation set, 3 rounds
    python bench/ingest_speed.py --set curl_faq --rounds 5

Both run as whole processes (start-up, imports, model load, parse, chunk, embed, index,
save) on the same corpus with the same bundled MiniLM weights, alternating which goes first
in each round; the figures are medians and the result is a ratio (the machines are shared
and noisy). Reports wall seconds, MB of extracted text per second, chunks per second, each
system's own stage breakdown, and the peak resident memory of its process tree (sampled).
Enclave's one-time ONNX export of the model (cached per machine) is done before the rounds
and reported on its own. Writes bench/results/ingest-speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PY = sys.executable


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``cmd``; returns (wall seconds, peak RSS bytes of its process tree, stdout)."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=REPO, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):  # 1: some file failed (reported, still timed)
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {err[-2000:]}")
    return seconds, peak, out


def _enclave(corpus: Path, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="enclave-speed-") as tmp:
        seconds, peak, out = _run([PY, "-m", "ingest", str(corpus), "--collection", "bench",
                                   "--json"], {**env, "ENCLAVE_DATA_DIR": tmp})
    report = json.loads(out)
    stats = report["stats"]
    failed = sum(r["status"] == "failed" for r in report["results"])
    return {"seconds": seconds, "peak_rss_mb": peak / 2**20, "failed_files": failed, **stats}


def _recipe(corpus: Path, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="recipe-speed-") as tmp:
        seconds, peak, out = _run([PY, str(REPO / "bench" / "recipe_ingest.py"), str(corpus),
                                   tmp], env)
    return {"seconds": seconds, "peak_rss_mb": peak / 2**20, **json.loads(out)}


def _largest_set() -> str:
    from bench.harness import discover_sets, load_recipe_documents

    sizes = {s.name: sum(len(d.page_content) for d in load_recipe_documents(s.corpus_files()))
             for s in discover_sets()}
    return max(sizes, key=lambda n: sizes[n])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default=None, help="evaluation set (default: the largest)")
    parser.add_argument("--corpus", type=Path, default=None, help="any folder instead of a set")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest-speed.json")
    args = parser.parse_args(argv)
    name = args.set or ("(folder)" if args.corpus else _largest_set())
    corpus = args.corpus or REPO / "bench" / "data" / name / "corpus"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    # The model export (first use on a machine) is not ingest: do it once, report it apart.
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", "from config import load_settings, configure_offline;"
                        "configure_offline();from retrieval.stack import build_embedder;"
                        f"build_embedder(load_settings(overrides={{'data_dir': {tmp!r}}}))"
                        ".warm_up()"], check=True, cwd=REPO, env=env, capture_output=True)
        warm_s = time.perf_counter() - t0
    log(f"set {name}: {corpus}; model ready in {warm_s:.1f}s (export when not cached)")

    runs: dict[str, list[dict[str, Any]]] = {"recipe": [], "enclave": []}
    for r in range(args.rounds):
        order = ["recipe", "enclave"] if r % 2 == 0 else ["enclave", "recipe"]
        for system in order:
            result = (_recipe if system == "recipe" else _enclave)(corpus, env)
            runs[system].append(result)
            log(f"round {r + 1} {system:8s} {result['seconds']:7.1f}s "
                f"peak {result['peak_rss_mb']:.0f} MiB chunks {result['chunks']}")

    summary: dict[str, Any] = {"set": name, "rounds": args.rounds,
                               "model_ready_seconds": round(warm_s, 1)}
    for system, rs in runs.items():
        text_mb = _median(rs, "text_chars") / 1e6
        seconds = _median(rs, "seconds")
        summary[system] = {
            "seconds_median": round(seconds, 2),
            "seconds_all": [round(x["seconds"], 2) for x in rs],
            "text_mb": round(text_mb, 3), "chunks": int(_median(rs, "chunks")),
            "mb_per_s": round(text_mb / seconds, 4),
            "chunks_per_s": round(_median(rs, "chunks") / seconds, 1),
            "stages_s": {k: round(_median(rs, k), 2) for k in
                         ("parse_s", "chunk_s", "embed_s", "index_s")},
            "peak_rss_mb": round(max(x["peak_rss_mb"] for x in rs)),
        }
    summary["speedup"] = round(summary["recipe"]["seconds_median"]
                               / summary["enclave"]["seconds_median"], 2)
    summary["throughput_ratio_mb_per_s"] = round(summary["enclave"]["mb_per_s"]
                                                 / summary["recipe"]["mb_per_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    for system in ("recipe", "enclave"):
        s = summary[system]
        print(f"{system:8s} {s['seconds_median']:7.1f} s  {s['mb_per_s']:.3f} MB/s  "
              f"{s['chunks_per_s']:6.1f} chunks/s  peak {s['peak_rss_mb']} MiB  "
              f"stages {s['stages_s']}")
    print(f"Enclave is {summary['speedup']:.2f}x faster end to end "
          f"({summary['throughput_ratio_mb_per_s']:.2f}x the MB/s of text)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
