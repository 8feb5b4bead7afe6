"""Retrieval evaluation harness: ingest a corpus through the real pipeline, run every question
through the real retriever, score passage-level Hit@k / MRR@10 and document-level Recall@k.

A retrieved passage *hits* when it contains a substantial contiguous span of the gold answer:
at least half of the gold text or 200 characters, whichever is smaller (compared on
lower-cased alphanumeric words, so neither side's chunking or markup decides the result).
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_SPAN_CHARS = 200
KS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    """One evaluation question."""

    id: str
    question: str
    document: str | None
    gold: str
    answerable: bool = True


@dataclass(frozen=True)
class Retrieved:
    """What a system returned for one question (best first)."""

    texts: list[str]
    documents: list[str]
    top_score: float | None
    seconds: float


@dataclass
class Report:
    """Metrics of one system on one question set."""

    system: str
    n_answerable: int
    hit_at: dict[int, float]
    mrr10: float
    doc_recall_at: dict[int, float]
    latency_mean_ms: float
    latency_p95_ms: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "system": self.system, "n_answerable": self.n_answerable,
            "hit_at": {str(k): v for k, v in self.hit_at.items()}, "mrr@10": self.mrr10,
            "doc_recall_at": {str(k): v for k, v in self.doc_recall_at.items()},
            "latency_mean_ms": self.latency_mean_ms, "latency_p95_ms": self.latency_p95_ms,
            **self.extra,
        }


def load_questions(path: Path) -> list[Question]:
    """Questions from JSON lines (``id, question, document, gold, answerable``)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Question(r["id"], r["question"], r.get("document"), r.get("gold", ""),
                                r.get("answerable", True)))
    return out


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words."""
    return _WORD_RE.findall(text.lower())


def span_chars(passage_words: list[str], gold_words: list[str]) -> int:
    """Characters (words + separating spaces) of the longest run of gold words in the passage."""
    if not passage_words or not gold_words:
        return 0
    m = SequenceMatcher(None, gold_words, passage_words, autojunk=False).find_longest_match(
        0, len(gold_words), 0, len(passage_words)
    )
    if m.size == 0:
        return 0
    run = gold_words[m.a : m.a + m.size]
    return sum(len(w) for w in run) + len(run) - 1


def is_hit(passage: str, gold: str, _cache: dict[str, list[str]] | None = None) -> bool:
    """True when ``passage`` contains min(half of gold, 200 chars) of gold contiguously."""
    gold_words = words(gold)
    gold_len = sum(len(w) for w in gold_words) + max(0, len(gold_words) - 1)
    need = min(gold_len / 2, MAX_SPAN_CHARS)
    return gold_len > 0 and span_chars(words(passage), gold_words) >= need


def score(system: str, questions: Sequence[Question], results: Sequence[Retrieved]) -> Report:
    """Passage- and document-level metrics plus latency."""
    answerable = [(q, r) for q, r in zip(questions, results, strict=True) if q.answerable]
    n = len(answerable) or 1
    first_hit: list[int | None] = []
    for q, r in answerable:
        rank = next((i for i, t in enumerate(r.texts[:10], 1) if is_hit(t, q.gold)), None)
        first_hit.append(rank)
    hit_at = {k: sum(1 for f in first_hit if f is not None and f <= k) / n for k in KS}
    mrr = sum(1 / f for f in first_hit if f is not None and f <= 10) / n
    doc_recall = {
        k: sum(1 for q, r in answerable if q.document in r.documents[:k]) / n for k in KS
    }
    latencies = sorted(r.seconds * 1000 for r in results)
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    return Report(system, len(answerable), hit_at, mrr, doc_recall,
                  statistics.fmean(latencies), p95)


def abstention_table(
    questions: Sequence[Question], results: Sequence[Retrieved], floors: Sequence[float]
) -> list[dict[str, float]]:
    """For each floor: share of answerable / unanswerable questions whose best score is below."""
    rows = []
    ans = [r.top_score for q, r in zip(questions, results, strict=True) if q.answerable]
    una = [r.top_score for q, r in zip(questions, results, strict=True) if not q.answerable]
    for floor in floors:
        rows.append({
            "floor": floor,
            "abstain_answerable": _below(ans, floor),
            "abstain_unanswerable": _below(una, floor),
        })
    return rows


def _below(scores: list[float | None], floor: float) -> float:
    if not scores:
        return 0.0
    return sum(1 for s in scores if s is None or s < floor) / len(scores)


# -- systems ---------------------------------------------------------------------------------

def run_enclave(
    corpus: Path, questions: Sequence[Question], variants: dict[str, dict[str, Any]],
    overrides: dict[str, Any] | None = None, k: int = 10, warm: int = 3,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, list[Retrieved]], dict[str, Any]]:
    """Ingest ``corpus`` once into a throwaway data dir with Enclave's real pipeline, then run
    every question under each retrieval variant (``{name: retrieval settings overrides}``)."""
    from config import configure_offline, load_settings
    from ingest.pipeline import expand_paths
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    configure_offline()
    with tempfile.TemporaryDirectory(prefix="enclave-eval-") as tmp:
        settings = load_settings(overrides={"data_dir": tmp, **(overrides or {})})
        stack = build_retrieval(settings)
        try:
            t0 = time.perf_counter()
            results = build_ingestor(stack).ingest_paths(expand_paths([corpus]), "eval")
            ingest_s = time.perf_counter() - t0
            failed = [r for r in results if r.status == "failed"]
            if failed:
                raise RuntimeError(f"ingest failed: {[(r.name, r.error) for r in failed]}")
            chunks = sum(r.chunks for r in results)
            if progress:
                progress(f"enclave: {len(results)} files -> {chunks} chunks in {ingest_s:.1f}s")
            base = stack.retriever.settings
            out: dict[str, list[Retrieved]] = {}
            for name, variant in variants.items():
                stack.retriever.settings = base.model_copy(update=variant)
                for q in questions[:warm]:
                    stack.retriever.search(q.question, "eval", k)
                runs = []
                for q in questions:
                    t = time.perf_counter()
                    hits = stack.retriever.search(q.question, "eval", k)
                    dt = time.perf_counter() - t
                    runs.append(Retrieved([h.text for h in hits], [h.document for h in hits],
                                          max((h.score for h in hits), default=None), dt))
                out[name] = runs
                if progress:
                    progress(f"enclave[{name}]: done")
            stack.retriever.settings = base
            return out, {"chunks": chunks, "ingest_seconds": round(ingest_s, 1)}
        finally:
            stack.close()


def run_langchain_baseline(
    corpus: Path, questions: Sequence[Question], k: int = 10, warm: int = 3,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Retrieved], dict[str, Any]]:
    """The plain recipe: RecursiveCharacterTextSplitter(1000, 200) + the same MiniLM model +
    LangChain's FAISS vector store, ``similarity_search``. Reads text files (.md, .txt)."""
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from config import configure_offline
    from retrieval.embedder import bundled_embedding_model_path

    configure_offline()
    t0 = time.perf_counter()
    docs = [
        Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
        for p in sorted(corpus.iterdir()) if p.is_file()
    ]
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=bundled_embedding_model_path())
    store = FAISS.from_documents(splits, embeddings)
    ingest_s = time.perf_counter() - t0
    if progress:
        progress(f"baseline: {len(splits)} chunks in {ingest_s:.1f}s")
    for q in questions[:warm]:
        store.similarity_search(q.question, k=k)
    out = []
    for q in questions:
        t = time.perf_counter()
        found = store.similarity_search_with_score(q.question, k=k)
        dt = time.perf_counter() - t
        out.append(Retrieved([d.page_content for d, _ in found],
                             [d.metadata["source"] for d, _ in found], None, dt))
    return out, {"chunks": len(splits), "ingest_seconds": round(ingest_s, 1)}


def format_table(reports: Sequence[Report]) -> str:
    """A fixed-width table for the terminal (and the README)."""
    head = "| system | Hit@1 | Hit@5 | Hit@10 | MRR@10 | DocRecall@5 | mean ms | p95 ms |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(
            f"| {r.system} | {r.hit_at[1]:.3f} | {r.hit_at[5]:.3f} | {r.hit_at[10]:.3f} "
            f"| {r.mrr10:.3f} | {r.doc_recall_at[5]:.3f} | {r.latency_mean_ms:.1f} "
            f"| {r.latency_p95_ms:.1f} |"
        )
    return "\n".join(lines)
