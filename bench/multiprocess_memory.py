"""Memory of N web processes sharing one vector index: loaded copies vs memory-mapped snapshots.

    python bench/multiprocess_memory.py [--chunks 200000] [--processes 1,2,4] [--factory Flat]

Builds one collection index of ``--chunks`` random 384-dimensional vectors (MiniLM's size)
through Enclave's FAISS store, then for each process count starts that many reader processes,
each opening the store as a web process does (``retrieval.index.mmap`` off, then on) and
running 50 searches. It reports the sum of the processes' PSS (proportional set size: a page
shared by N processes counts 1/N to each, so the sum is the real memory they take together),
its ratio to one process, and the median search time per mode, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.backends.faiss import FaissIndexStore  # noqa: E402

DIM = 384


def _pss_mb() -> float:
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reader(index_dir: str, mmap: bool, ready: mp.Barrier, done: mp.Barrier,  # type: ignore[type-arg]
            out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = FaissIndexStore(Path(index_dir), dimension=DIM, mmap=mmap)
    rng = np.random.default_rng()
    times = []
    for _ in range(50):
        q = rng.standard_normal(DIM).astype("float32")
        t0 = time.perf_counter()
        store.search(1, q / np.linalg.norm(q), 10)
        times.append(time.perf_counter() - t0)
    ready.wait()  # every process has its index open and searched: measure now
    out.put((_pss_mb(), statistics.median(times) * 1000))
    done.wait()


def measure(index_dir: Path, processes: int, mmap: bool) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    ready, done, out = ctx.Barrier(processes), ctx.Barrier(processes + 1), ctx.Queue()
    procs = [ctx.Process(target=_reader, args=(str(index_dir), mmap, ready, done, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    done.wait()
    for p in procs:
        p.join()
    return {"pss_mb": round(sum(r[0] for r in results), 1),
            "search_ms_median": round(statistics.median(r[1] for r in results), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=200_000)
    ap.add_argument("--processes", default="1,2,4")
    ap.add_argument("--factory", default="Flat", help="Flat or an IVF factory (IVF1024,SQ8)")
    args = ap.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp)
        store = FaissIndexStore(index_dir, dimension=DIM)
        rng = np.random.default_rng(0)
        for start in range(0, args.chunks, 50_000):
            n = min(50_000, args.chunks - start)
            x = rng.standard_normal((n, DIM)).astype("float32")
            store.add(1, np.arange(start, start + n, dtype=np.int64),
                      x / np.linalg.norm(x, axis=1, keepdims=True))
        if args.factory != "Flat":
            store.rebuild(1, args.factory)
        store.save(1)
        size_mb = store.path_for(1).stat().st_size / 2**20
        del store
        rows = []
        for n in counts:
            for mmap in (False, True):
                r = measure(index_dir, n, mmap)
                rows.append({"processes": n, "mmap": mmap, **r})
                print(json.dumps(rows[-1]), flush=True)
    base = {row["mmap"]: row["pss_mb"] for row in rows if row["processes"] == counts[0]}
    print(f"\nindex file {size_mb:.0f} MB ({args.chunks} x {DIM}, {args.factory})")
    print("| processes | mode | PSS sum (MB) | x one process | search p50 (ms) |")
    print("|---|---|---|---|---|")
    for row in rows:
        mode = "mmap" if row["mmap"] else "load"
        print(f"| {row['processes']} | {mode} | {row['pss_mb']:.0f} | "
              f"{row['pss_mb'] / base[row['mmap']]:.2f} | {row['search_ms_median']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
