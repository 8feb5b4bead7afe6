"""Retrieval at 10k, 100k and 1M chunks: latency with access control, recall, memory, builds.

    python bench/scale.py --sizes 10k,100k          # minutes
    python bench/scale.py --sizes 1m                # under an hour on 2 cores
    python bench/scale.py --sizes 10k,100k,1m --stage query   # re-measure existing builds
    python bench/scale.py --stage plot              # docs/scale-*.png from the results

Stages (``--stage``): ``build`` writes a data dir per size under ``--out`` (catalog,
keyword index, vector index, rebuilt in the structure ``retrieval.index`` names), ``query``
measures it and writes ``results.json`` beside it, ``plot`` draws every size's results on
log-log axes; ``all`` (default) runs the three.

What is built, per size N:
- N/10 documents of 10 chunks in one collection. Chunk text is real and varied: 3-7
  sentences drawn from the sentences of the bench/data corpora (Debian FAQ Markdown, FFmpeg
  HTML), so the keyword index sees a natural vocabulary and term-frequency spread.
- Restrictions as organisations have them: the collection is granted to ``staff``; 25% of
  the documents are open to it, 75% are restricted to one of nine groups ``g0..g8``. The
  measured *user* is in ``staff`` and ``g0``: a third of the documents. The *admin* reads all.
- Synthetic unit vectors with the structure of real embeddings (:class:`VectorModel`:
  topics, documents, chunks in a 64-dimensional latent space projected to 384), since
  embedding a million chunks with MiniLM takes hours here; recall is measured on questions
  drawn around topics.

Measured: single-query latency p50/p95 (warm, through the real ``Retriever`` with the real
bundled MiniLM embedding each question: embedding, vector search, keyword search, fusion,
hydration and passage growth) in dense, keyword and hybrid mode, as admin and as the user;
the first query after an access change (cache miss) separately; Recall@10 of the vector
index against exact search with and without the access filter, per nprobe; memory of the
vector index, the keyword index and the catalog; build and update times.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DIM = 384
CHUNKS_PER_DOC = 10
GROUPS = [f"g{i}" for i in range(9)]
USER_GROUPS = frozenset({"staff", "g0"})
NPROBES = (64, 128, 256, 512, 1024, 2048)


def _size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * mult)


def _label(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


# -- data ----------------------------------------------------------------------------------
def sentences() -> list[str]:
    """Real sentences from the bench corpora (Markdown and HTML; no Python documentation)."""
    out: list[str] = []
    data = REPO / "bench" / "data"
    for path in sorted(data.glob("debian_faq/corpus/*.md")) + sorted(
            data.glob("ffmpeg_faq/corpus/*.html")):
        text = path.read_text(errors="replace")
        if path.suffix == ".html":
            text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        text = re.sub(r"[#*`>|_\[\]()]+", " ", text)
        for sentence in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)):
            if 30 <= len(sentence) <= 400:
                out.append(sentence.strip())
    return out


def questions() -> list[str]:
    """Real questions of every bench set (answerable ones)."""
    out = []
    for path in sorted((REPO / "bench" / "data").glob("*/questions.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("answerable", True):
                out.append(row["question"])
    return out


class VectorModel:
    """Synthetic embeddings with the structure of real ones: topics, documents, chunks.

    A chunk's 64-dimensional latent is its document's plus noise, a document's its topic's
    plus noise (about 25 documents per topic); the 384-dimensional vector is a fixed random
    orthonormal projection of the latent plus a little ambient noise, normalised. Questions
    are drawn around a topic, not a document, so their nearest chunks spread over the topic's
    documents and the index must search rather than find one tight cluster. The spreads are
    set so that a question's best chunk has cosine ~0.5 and random pairs ~0.08, as MiniLM
    gives on the bench sets, and an IVF index is no easier than on real embeddings
    (IVF1024 at 100k chunks: Recall@10 0.76 at nprobe 16, 0.87 at 64).
    """

    LATENT = 64

    def __init__(self, documents: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((DIM, self.LATENT)))
        self.projection = q.astype(np.float32)  # (DIM, LATENT), orthonormal columns
        self.topics = rng.standard_normal((max(1, documents // 25), self.LATENT),
                                          dtype=np.float32)
        topic_of = rng.integers(0, len(self.topics), documents)
        self.documents = (self.topics[topic_of]
                          + 1.5 * rng.standard_normal((documents, self.LATENT),
                                                      dtype=np.float32))

    def _vectors(self, latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        v = latent @ self.projection.T
        v += rng.standard_normal(v.shape, dtype=np.float32) * (2.0 / DIM**0.5)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v.astype(np.float32)

    def chunks(self, document_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Vectors of chunks of the given documents (0-based document indexes)."""
        latent = self.documents[document_index] + 0.5 * rng.standard_normal(
            (len(document_index), self.LATENT), dtype=np.float32)
        return self._vectors(latent, rng)

    def questions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Vectors of questions about random topics."""
        latent = self.topics[rng.integers(0, len(self.topics), n)] + 1.5 * rng.standard_normal(
            (n, self.LATENT), dtype=np.float32)
        return self._vectors(latent, rng)


def _settings(folder: Path, **retrieval: object):  # noqa: ANN202 - config.Settings
    from config import load_settings

    return load_settings(overrides={"data_dir": str(folder), "retrieval": retrieval})


# -- build ---------------------------------------------------------------------------------
def build(n: int, folder: Path) -> dict[str, float]:
    """Catalog, keyword index and vector index of ``n`` chunks in ``folder``."""
    from sqlalchemy import insert, text

    from db.models import Chunk, Collection, Document, DocumentRestriction
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.stack import build_retrieval

    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty: remove it or use --stage query")
    folder.mkdir(parents=True, exist_ok=True)
    pyrng = random.Random(n)
    pool = sentences()
    stack = build_retrieval(_settings(folder))
    docs = n // CHUNKS_PER_DOC
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    with stack.sessions() as session:
        coll = Collection(name="scale")
        session.add(coll)
        session.flush()
        cid = coll.id
        grant_collection(session, cid, "staff")
        group_ids = [get_or_create_group(session, g).id for g in GROUPS]
        session.commit()
    restricted: list[dict[str, int]] = []
    chunk_id = 0
    step = 2000  # documents per transaction
    for first in range(0, docs, step):
        doc_rows, chunk_rows = [], []
        for d in range(first, min(first + step, docs)):
            doc_rows.append({"id": d + 1, "collection_id": cid, "name": f"doc-{d:07d}.md",
                             "file_type": "md", "content_hash": f"{d:064x}", "size_bytes": 0,
                             "version": 1, "status": "ready"})
            if pyrng.random() >= 0.25:
                restricted.append({"document_id": d + 1,
                                   "group_id": group_ids[pyrng.randrange(len(group_ids))]})
            pos = 0
            for o in range(CHUNKS_PER_DOC):
                body = " ".join(pyrng.choice(pool) for _ in range(pyrng.randint(3, 7)))
                chunk_id += 1
                chunk_rows.append({"id": chunk_id, "document_id": d + 1, "ordinal": o,
                                   "text": body, "kind": "text", "page": None,
                                   "heading_path": f"Section {o // 3 + 1}",
                                   "char_start": pos, "char_end": pos + len(body),
                                   "token_count": len(body) // 4})
                pos += len(body) + 2
        with stack.sessions() as session:
            session.execute(insert(Document), doc_rows)
            session.execute(insert(Chunk), chunk_rows)
            session.commit()
        print(f"  catalog {min(first + step, docs)}/{docs} documents", file=sys.stderr)
    with stack.sessions() as session:
        for start in range(0, len(restricted), 50_000):
            session.execute(insert(DocumentRestriction), restricted[start:start + 50_000])
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    times["catalog_and_keyword_s"] = time.perf_counter() - t0

    times.update(build_vectors(n, folder, stack, cid))
    stack.close()
    return times


def build_vectors(n: int, folder: Path, stack=None, cid: int = 1) -> dict[str, float]:  # noqa: ANN001
    """The vector index of the build in ``folder``: flat first, then the configured structure."""
    from retrieval.stack import build_retrieval

    own = stack is None
    if own:
        stack = build_retrieval(_settings(folder))
        stack.index.drop(cid)
    times: dict[str, float] = {}
    rng = np.random.default_rng(n + 1)
    t0 = time.perf_counter()
    model = VectorModel(n // CHUNKS_PER_DOC, seed=n)
    for start in range(0, n, 100_000):
        ids = np.arange(start + 1, min(start + 100_000, n) + 1, dtype=np.int64)
        stack.index.add(cid, ids, model.chunks((ids - 1) // CHUNKS_PER_DOC, rng))
    stack.index.save(cid)
    times["vectors_flat_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    factory = stack.settings.retrieval.index.structure_for(n)
    if factory != "Flat":
        stack.index.rebuild(cid, factory, progress=lambda m: print(f"  {m}", file=sys.stderr))
    times["index_rebuild_s"] = time.perf_counter() - t0
    times["structure"] = stack.index.structure(cid)  # type: ignore[assignment]
    if own:
        stack.close()
    return times


# -- query ---------------------------------------------------------------------------------
def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _table_bytes(session, prefix: str) -> int:  # noqa: ANN001
    from sqlalchemy import text

    try:
        return int(session.execute(text("SELECT coalesce(sum(pgsize), 0) FROM dbstat "
                                        "WHERE name LIKE :p"), {"p": prefix + "%"}).scalar())
    except Exception:  # noqa: BLE001 - dbstat not compiled in
        return -1


def measure(n: int, folder: Path, queries: int) -> dict[str, object]:
    """Latency, recall, memory and update times of the build in ``folder``."""
    import faiss
    from sqlalchemy import select, text

    from db.models import Collection, Document
    from retrieval.acl import Principal, restrict_document, unrestrict_document
    from retrieval.stack import build_retrieval

    out: dict[str, object] = {"chunks": n}
    rss0 = _rss_mb()
    stack = build_retrieval(_settings(folder))
    with stack.sessions() as session:
        cid = session.scalar(select(Collection.id).where(Collection.name == "scale"))
    stack.embedder.warm_up()
    rss_model = _rss_mb()
    stack.index.count(cid)
    out["structure"] = stack.index.structure(cid)
    out["rss_index_mb"] = _rss_mb() - rss_model
    out["rss_model_mb"] = rss_model - rss0
    out["index_file_mb"] = stack.index.path_for(cid).stat().st_size / 2**20  # type: ignore[attr-defined]
    with stack.sessions() as session:
        out["keyword_index_mb"] = _table_bytes(session, "chunks_fts") / 2**20
        out["catalog_mb"] = (_table_bytes(session, "chunks") - _table_bytes(session, "chunks_fts")
                             + _table_bytes(session, "documents")
                             + _table_bytes(session, "acl_")) / 2**20
        out["database_file_mb"] = (folder / "enclave.db").stat().st_size / 2**20

    admin = Principal("admin", frozenset(), is_admin=True)
    user = Principal("user", USER_GROUPS)
    qs = questions()
    rng = random.Random(7)
    sample = [rng.choice(qs) for _ in range(queries)]
    retriever = stack.retriever
    settings = retriever.settings

    # Cold access resolution: the first search of a principal after an access change.
    t0 = time.perf_counter()
    retriever.search(sample[0], "scale", principal=user)
    out["first_query_user_cold_ms"] = (time.perf_counter() - t0) * 1000
    latency: dict[str, dict[str, float]] = {}
    for mode in ("dense", "keyword", "hybrid"):
        retriever.settings = settings.model_copy(update={"mode": mode})
        for who, principal in (("admin", admin), ("user", user)):
            for q in sample[:10]:  # warm
                retriever.search(q, "scale", principal=principal)
            times = []
            for q in sample:
                t0 = time.perf_counter()
                retriever.search(q, "scale", principal=principal)
                times.append((time.perf_counter() - t0) * 1000)
            latency[f"{mode}/{who}"] = {"p50_ms": statistics.median(times),
                                        "p95_ms": _pct(times, 95)}
            print(f"  {mode:8s} {who:6s} p50 {latency[f'{mode}/{who}']['p50_ms']:6.1f} ms  "
                  f"p95 {latency[f'{mode}/{who}']['p95_ms']:6.1f} ms", file=sys.stderr)
    retriever.settings = settings
    out["latency"] = latency

    # Access change -> next request: the revocation is seen, and what the cache miss costs.
    with stack.sessions() as session:
        doc = session.scalar(select(Document.id).order_by(Document.id).limit(1))
        restrict_document(session, doc, ["g8"])
        session.commit()
    t0 = time.perf_counter()
    retriever.search(sample[1], "scale", principal=user)
    out["first_query_after_access_change_ms"] = (time.perf_counter() - t0) * 1000
    with stack.sessions() as session:
        unrestrict_document(session, doc, ["g8"])
        session.commit()

    # Recall@10 of the index against exact search, with and without the access filter.
    model = VectorModel(n // CHUNKS_PER_DOC, seed=n)
    qrng = np.random.default_rng(123)
    qv = model.questions(200, qrng)
    index = stack.index._get(cid)  # noqa: SLF001 - the bench reads the raw FAISS index
    ids = stack.index.ids(cid)
    vectors = index.reconstruct_batch(ids) if isinstance(index, faiss.IndexIVF) else \
        index.index.reconstruct_n(0, index.ntotal)
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    exact.add_with_ids(vectors, ids)
    del vectors
    with stack.sessions() as session:
        coll = session.get(Collection, cid)
        scope = retriever._access.scope(session, coll, user, len(ids))  # noqa: SLF001
    bitmap = scope.chunks.bitmap
    sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    _, truth = exact.search(qv, 10)
    _, truth_user = exact.search(qv, 10, params=faiss.SearchParameters(sel=sel))
    exact_ms = []
    for q in qv[:50]:
        t0 = time.perf_counter()
        exact.search(q[None], 10)
        exact_ms.append((time.perf_counter() - t0) * 1000)
    out["exact_search_p50_ms"] = statistics.median(exact_ms)
    del exact
    recall: dict[str, dict[str, float]] = {}
    if isinstance(index, faiss.IndexIVF):
        for nprobe in NPROBES:
            hits = hits_user = 0
            ms = []
            for i, q in enumerate(qv):
                t0 = time.perf_counter()
                _, found = index.search(q[None], 10, params=faiss.SearchParametersIVF(
                    nprobe=nprobe))
                ms.append((time.perf_counter() - t0) * 1000)
                _, found_user = index.search(q[None], 10, params=faiss.SearchParametersIVF(
                    nprobe=nprobe, sel=sel))
                hits += len(set(found[0]) & set(truth[i]))
                hits_user += len(set(found_user[0]) & set(truth_user[i]))
            recall[str(nprobe)] = {"recall_at_10": hits / (10 * len(qv)),
                                   "recall_at_10_user": hits_user / (10 * len(qv)),
                                   "search_p50_ms": statistics.median(ms)}
            print(f"  nprobe {nprobe:4d} recall@10 {hits / (10 * len(qv)):.3f} "
                  f"(user {hits_user / (10 * len(qv)):.3f}) {statistics.median(ms):.2f} ms",
                  file=sys.stderr)
    else:
        recall["exact"] = {"recall_at_10": 1.0, "recall_at_10_user": 1.0,
                           "search_p50_ms": out["exact_search_p50_ms"]}
    out["recall"] = recall
    out["nprobe"] = stack.index.nprobe  # type: ignore[attr-defined]

    # Update: 1,000 new chunks (100 documents) into catalog, keyword index and vector index.
    from sqlalchemy import insert

    from db.models import Chunk

    t0 = time.perf_counter()
    with stack.sessions() as session:
        base_doc = int(session.execute(text("SELECT max(id) FROM documents")).scalar()) + 1
        base_chunk = int(session.execute(text("SELECT max(id) FROM chunks")).scalar()) + 1
        session.execute(insert(Document), [
            {"id": base_doc + d, "collection_id": cid, "name": f"new-{d}.md", "file_type": "md",
             "content_hash": "0", "size_bytes": 0, "version": 1, "status": "ready"}
            for d in range(100)])
        session.execute(insert(Chunk), [
            {"id": base_chunk + i, "document_id": base_doc + i // 10, "ordinal": i % 10,
             "text": f"update chunk {i} " + sample[i % len(sample)], "kind": "text",
             "page": None, "heading_path": "", "char_start": 0, "char_end": 10,
             "token_count": 10} for i in range(1000)])
        session.commit()
    new_ids = np.arange(base_chunk, base_chunk + 1000, dtype=np.int64)
    stack.index.add(cid, new_ids, model.chunks(np.zeros(1000, dtype=np.int64), qrng))
    stack.index.save(cid)
    out["update_1000_chunks_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retriever.search(sample[2], "scale", principal=user)
    out["first_query_after_update_ms"] = (time.perf_counter() - t0) * 1000
    with stack.sessions() as session:  # leave the build as it was
        stack.index.remove(cid, new_ids)
        stack.index.save(cid)
        session.execute(text("DELETE FROM documents WHERE id >= :d"), {"d": base_doc})
        session.commit()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stack.close()
    return out


# -- plot ----------------------------------------------------------------------------------
def plot(results: list[dict[str, object]], docs: Path) -> list[Path]:
    """Latency and memory against corpus size, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["chunks"])  # type: ignore[arg-type, return-value]
    sizes = [r["chunks"] for r in results]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key in ("hybrid/user", "hybrid/admin", "dense/user", "keyword/user"):
        ax.plot(sizes, [r["latency"][key]["p95_ms"] for r in results],  # type: ignore[index]
                marker="o", label=f"{key} p95")
    ax.plot(sizes, [r["exact_search_p50_ms"] for r in results], linestyle=":", marker="x",
            label="exact flat scan p50 (no filter)")
    ax.axhline(50, color="grey", linestyle="--", linewidth=0.8)
    ax.set(xscale="log", yscale="log", xlabel="chunks", ylabel="ms per query",
           title="Single-query latency, 2 cores (bench/scale.py)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    latency_png = docs / "scale-latency.png"
    fig.savefig(latency_png, dpi=110)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label in (("index_file_mb", "vector index"), ("keyword_index_mb", "keyword index"),
                       ("catalog_mb", "catalog (chunks, documents, ACL)")):
        ax.plot(sizes, [r[key] for r in results], marker="o", label=label)
    ax.set(xscale="log", yscale="log", xlabel="chunks", ylabel="MB",
           title="Memory / disk by part (bench/scale.py)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    memory_png = docs / "scale-memory.png"
    fig.savefig(memory_png, dpi=110)
    return [latency_png, memory_png]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated: 10k,100k,1m")
    parser.add_argument("--stage", choices=("all", "build", "vectors", "query", "plot"),
                        default="all", help="vectors: rebuild only the vector index of a build")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "scale")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per config")
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="where plots go")
    args = parser.parse_args(argv)
    from config import configure_offline

    configure_offline()
    sizes = [_size(s) for s in args.sizes.split(",") if s.strip()]
    for n in sizes:
        folder = args.out / _label(n)
        if args.stage in ("all", "build"):
            print(f"building {_label(n)} in {folder}", file=sys.stderr)
            t0 = time.perf_counter()
            times = build(n, folder)
            times["total_s"] = time.perf_counter() - t0
            (folder / "build.json").write_text(json.dumps(times, indent=2))
            print(json.dumps(times), file=sys.stderr)
        if args.stage == "vectors":
            times = json.loads((folder / "build.json").read_text())
            times.update(build_vectors(n, folder))
            (folder / "build.json").write_text(json.dumps(times, indent=2))
            print(json.dumps(times), file=sys.stderr)
        if args.stage in ("all", "query"):
            print(f"measuring {_label(n)}", file=sys.stderr)
            result = measure(n, folder, args.queries)
            build_file = folder / "build.json"
            if build_file.exists():
                result["build"] = json.loads(build_file.read_text())
            (folder / "results.json").write_text(json.dumps(result, indent=2))
            print(json.dumps(result, indent=2))
    if args.stage in ("all", "plot"):
        results = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/results.json"))]
        if results:
            for path in plot(results, args.docs):
                print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
