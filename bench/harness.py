"""Retrieval evaluation harness: ingest a corpus through the real pipeline, run every question
through the real retriever, score passage-level Hit@k / MRR@10 and document-level Recall@k.

A retrieved passage *hits* when it contains a substantial contiguous span of the gold answer:
at least half of the gold text or 200 characters, whichever is smaller (compared on
lower-cased alphanumeric words, so neither side's chunking or markup decides the result).

Beyond one system on one question set:

- :func:`discover_sets` finds the evaluation sets (``bench/data/<name>/questions.jsonl``);
  :func:`evaluate_set` runs the LangChain recipe and every Enclave variant on one set (one
  ingest per system) and scores them; :func:`macro_average` averages reports over sets.
- Every report carries, besides Hit@k / MRR / DocRecall / latency, the abstention rates at the
  configured relevance floor (``retrieval.min_score``: the share of answerable and of
  unanswerable questions whose best passage scores below it) and ``contained``: the share of
  answerable questions whose gold passage is a hit for at least one chunk of the whole index
  (what chunking kept; Hit@10 below it is lost by ranking).
- Questions carry a ``split`` (``tune`` / ``test``): choose settings on ``tune``, report on
  ``test``.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_SPAN_CHARS = 200
KS = (1, 5, 10)
REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "bench" / "data"
#: Relevance floors of the abstention sweep.
FLOORS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
SPLITS = ("tune", "test", "all")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Question:
    """One evaluation question."""

    id: str
    question: str
    document: str | None
    gold: str
    answerable: bool = True
    split: str | None = None
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Retrieved:
    """What a system returned for one question (best first)."""

    texts: list[str]
    documents: list[str]
    top_score: float | None
    seconds: float
    pages: list[int | None] = field(default_factory=list)
    #: The product's own decision (retrieval.evidence), when the system makes one.
    abstained: bool | None = None


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
    n_unanswerable: int = 0
    #: Share of answerable questions whose gold is a hit for some chunk of the index.
    contained: float | None = None
    #: Relevance floor the two abstention rates below were taken at.
    floor: float | None = None
    abstain_answerable: float | None = None
    abstain_unanswerable: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "system": self.system, "n_answerable": self.n_answerable,
            "n_unanswerable": self.n_unanswerable,
            "hit_at": {str(k): v for k, v in self.hit_at.items()}, "mrr@10": self.mrr10,
            "doc_recall_at": {str(k): v for k, v in self.doc_recall_at.items()},
            "contained": self.contained, "floor": self.floor,
            "abstain_answerable": self.abstain_answerable,
            "abstain_unanswerable": self.abstain_unanswerable,
            "latency_mean_ms": self.latency_mean_ms, "latency_p95_ms": self.latency_p95_ms,
            **self.extra,
        }


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Questions from JSON lines (``id, question, document, gold, answerable``; optional
    ``split``, ``pages``). ``split`` ``"tune"``/``"test"`` keeps that split only (``None`` or
    ``"all"``: every question)."""
    if split not in (None, *SPLITS):
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            q = Question(r["id"], r["question"], r.get("document"), r.get("gold", ""),
                         r.get("answerable", True), r.get("split"),
                         tuple(r.get("pages") or ()))
            if split in (None, "all") or q.split == split:
                out.append(q)
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


def first_hit_ranks(questions: Sequence[Question], results: Sequence[Retrieved],
                    k: int = 10) -> list[int | None]:
    """For every question, the 1-based rank of the first hit in the top ``k`` (None: none or
    unanswerable)."""
    out: list[int | None] = []
    for q, r in zip(questions, results, strict=True):
        if not q.answerable:
            out.append(None)
            continue
        out.append(next((i for i, t in enumerate(r.texts[:k], 1) if is_hit(t, q.gold)), None))
    return out


def contained_share(questions: Sequence[Question], chunks: Sequence[tuple[str, str]],
                    ranks: Sequence[int | None] | None = None) -> float:
    """Share of answerable questions whose gold is a hit for at least one chunk of the index
    (``chunks``: ``(document, text)`` pairs). Only the gold document's chunks are searched,
    plus the question's own retrieved hits (``ranks``), so it never falls below Hit@10."""
    by_doc: dict[str, list[str]] = {}
    for doc, text in chunks:
        by_doc.setdefault(doc, []).append(text)
    answerable = [(i, q) for i, q in enumerate(questions) if q.answerable]
    if not answerable:
        return 0.0
    found = 0
    for i, q in answerable:
        if ranks is not None and ranks[i] is not None:
            found += 1
            continue
        gold_set = set(words(q.gold))
        for text in by_doc.get(q.document or "", []):
            if len(gold_set & set(words(text))) >= min(3, len(gold_set)) and is_hit(text, q.gold):
                found += 1
                break
    return found / len(answerable)


def _hit(rank: int | None, k: int) -> float:
    """1 when the first hit is in the top ``k``, else 0 (Hit@k of one question)."""
    return 1.0 if rank is not None and rank <= k else 0.0


def _reciprocal_rank(rank: int | None) -> float:
    """1 / rank of the first hit within the top 10, else 0 (MRR@10 of one question)."""
    return 1 / rank if rank is not None and rank <= 10 else 0.0


def score(
    system: str, questions: Sequence[Question], results: Sequence[Retrieved], *,
    chunks: Sequence[tuple[str, str]] | None = None, floor: float | None = None,
) -> Report:
    """Passage- and document-level metrics plus latency; with ``chunks`` (the whole index) the
    ``contained`` share, with ``floor`` the abstention rates at that relevance floor."""
    ranks = first_hit_ranks(questions, results)
    answerable = [(q, r, f) for q, r, f in zip(questions, results, ranks, strict=True)
                  if q.answerable]
    n = len(answerable) or 1
    hit_at = {k: sum(_hit(f, k) for _, _, f in answerable) / n for k in KS}
    mrr = sum(_reciprocal_rank(f) for _, _, f in answerable) / n
    doc_recall = {
        k: sum(1 for q, r, _ in answerable if q.document in r.documents[:k]) / n for k in KS
    }
    latencies = sorted(r.seconds * 1000 for r in results) or [0.0]
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    report = Report(system, len(answerable), hit_at, mrr, doc_recall,
                    statistics.fmean(latencies), p95,
                    n_unanswerable=sum(1 for q in questions if not q.answerable))
    if chunks is not None:
        report.contained = contained_share(questions, chunks, ranks)
    if results and all(r.abstained is not None for r in results):
        # The system decides itself (Enclave: retrieval.evidence): report its decisions.
        ans = [r.abstained for q, r in zip(questions, results, strict=True) if q.answerable]
        una = [r.abstained for q, r in zip(questions, results, strict=True) if not q.answerable]
        report.floor = floor
        report.abstain_answerable = sum(ans) / len(ans) if ans else 0.0
        report.abstain_unanswerable = sum(una) / len(una) if una else 0.0
    elif floor is not None:
        row = abstention_table(questions, results, [floor])[0]
        report.floor = floor
        report.abstain_answerable = row["abstain_answerable"]
        report.abstain_unanswerable = row["abstain_unanswerable"]
    return report


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


# -- evaluation sets -------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalSet:
    """One evaluation set: ``<root>/corpus/``, ``questions.jsonl``, ``questions-slice.jsonl``
    and, optionally, ``corpus-slice.txt`` (the documents a slice run ingests). A one-off set
    names its folder and questions file instead (``corpus_dir``, ``questions_file``)."""

    name: str
    root: Path
    corpus_dir: Path | None = None
    questions_file: Path | None = None

    @property
    def corpus(self) -> Path:
        return self.corpus_dir or self.root / "corpus"

    def questions_path(self, slice_: bool = False) -> Path:
        if self.questions_file is not None:
            return self.questions_file
        return self.root / ("questions-slice.jsonl" if slice_ else "questions.jsonl")

    def questions(self, split: str | None = None, slice_: bool = False) -> list[Question]:
        return load_questions(self.questions_path(slice_), split)

    def corpus_files(self, slice_: bool = False) -> list[Path]:
        """The files to ingest, sorted: with ``slice_`` those listed in ``corpus-slice.txt``
        (when there is one), else every file of ``corpus/``."""
        listing = self.root / "corpus-slice.txt"
        if slice_ and self.corpus_dir is None and listing.exists():
            names = [n.strip() for n in listing.read_text(encoding="utf-8").splitlines()]
            return [self.corpus / n for n in names if n]
        return sorted(p for p in self.corpus.rglob("*")
                      if p.is_file() and not p.name.startswith("."))


def discover_sets(data_dir: Path = DATA_DIR, names: Iterable[str] | None = None
                  ) -> list[EvalSet]:
    """Every ``<data_dir>/<name>/questions.jsonl`` set (sorted by name), or the named ones."""
    found = {p.parent.name: EvalSet(p.parent.name, p.parent)
             for p in sorted(data_dir.glob("*/questions.jsonl"))}
    if names is None:
        return list(found.values())
    wanted = list(names)
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ValueError(f"unknown sets {unknown}; found: {sorted(found)}")
    return [found[n] for n in wanted]


def _corpus_paths(corpus: Path | Sequence[Path]) -> list[Path]:
    if isinstance(corpus, Path):
        return [corpus] if corpus.is_file() else sorted(
            p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
    return list(corpus)


# -- systems ---------------------------------------------------------------------------------

def run_enclave(
    corpus: Path | Sequence[Path], questions: Sequence[Question],
    variants: dict[str, dict[str, Any]], overrides: dict[str, Any] | None = None, k: int = 10,
    warm: int = 3, progress: Progress | None = None,
    chunks_out: list[tuple[str, str]] | None = None, strict: bool = True,
) -> tuple[dict[str, list[Retrieved]], dict[str, Any]]:
    """Ingest ``corpus`` (a folder, or a list of files) once into a throwaway data dir with
    Enclave's real pipeline, then run every question under each retrieval variant
    (``{name: retrieval settings overrides}``). ``chunks_out`` receives ``(document, text)``
    of every chunk of the ingested collection, read from the catalog. ``info["min_score"]``
    is each variant's relevance floor. A file that fails to ingest raises when ``strict``,
    else it is listed in ``info["failed_files"]`` (its questions simply miss)."""
    from sqlalchemy import select

    from config import configure_offline, load_settings
    from db.models import Chunk, Collection, Document
    from ingest.pipeline import expand_paths
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    configure_offline()
    paths = [corpus] if isinstance(corpus, Path) else list(corpus)
    with tempfile.TemporaryDirectory(prefix="enclave-eval-") as tmp:
        settings = load_settings(overrides={"data_dir": tmp, **(overrides or {})})
        stack = build_retrieval(settings)
        try:
            t0 = time.perf_counter()
            ingestor = build_ingestor(stack)
            items = expand_paths(paths)
            results = ingestor.ingest_paths(items, "eval")
            # A batch whose embedding failed is retried file by file (see the bench README:
            # concurrent use of the tokenizer by chunking and embedding can break a batch).
            retried = []
            by_name = {name: path for path, name in items}
            for i, r in enumerate(results):
                if r.status == "failed" and (r.error or "").startswith("embedding failed"):
                    retried.append(r.name)
                    results[i] = ingestor.ingest_paths([(by_name[r.name], r.name)], "eval")[0]
            ingest_s = time.perf_counter() - t0
            failed = [r for r in results if r.status == "failed"]
            if failed and strict:
                raise RuntimeError(f"ingest failed: {[(r.name, r.error) for r in failed]}")
            if failed and progress:
                progress(f"enclave: {len(failed)} files FAILED to ingest: "
                         f"{[(r.name, r.error) for r in failed]}")
            chunks = sum(r.chunks for r in results)
            if progress:
                progress(f"enclave: {len(results)} files -> {chunks} chunks in {ingest_s:.1f}s"
                         + (f" ({len(retried)} re-ingested after an embedding failure)"
                            if retried else ""))
            if chunks_out is not None:
                with stack.sessions() as session:
                    rows = session.execute(
                        select(Document.name, Chunk.text)
                        .join(Chunk, Chunk.document_id == Document.id)
                        .join(Collection, Collection.id == Document.collection_id)
                        .where(Collection.name == "eval")
                        .order_by(Document.name, Chunk.ordinal)
                    ).all()
                chunks_out.extend((name, text) for name, text in rows)
            base = stack.retriever.settings
            out: dict[str, list[Retrieved]] = {}
            floors: dict[str, float] = {}
            for name, variant in variants.items():
                stack.retriever.settings = base.model_copy(update=variant)
                floors[name] = stack.retriever.settings.min_score
                for q in questions[:warm]:
                    stack.retriever.search(q.question, "eval", k)
                runs = []
                for q in questions:
                    t = time.perf_counter()
                    hits = stack.retriever.search(q.question, "eval", k)
                    evidence = stack.retriever.assess(q.question, hits)
                    dt = time.perf_counter() - t
                    runs.append(Retrieved([h.text for h in hits], [h.document for h in hits],
                                          max((h.score for h in hits), default=None), dt,
                                          [h.page for h in hits], evidence.abstain))
                out[name] = runs
                if progress:
                    progress(f"enclave[{name}]: done")
            stack.retriever.settings = base
            info = {"files": len(results), "chunks": chunks,
                    "ingest_seconds": round(ingest_s, 1), "min_score": floors}
            if retried:
                info["reingested_after_embedding_failure"] = retried
            if failed:
                info["failed_files"] = {r.name: r.error for r in failed}
            return out, info
        finally:
            stack.close()


def _docx_loader(path: Path) -> list[Any]:
    """LangChain's Docx2txtLoader when docx2txt is installed, else python-docx paragraphs."""
    from langchain_core.documents import Document

    try:
        from langchain_community.document_loaders import Docx2txtLoader

        return Docx2txtLoader(str(path)).load()
    except ImportError:
        import docx

        text = "\n\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        return [Document(page_content=text, metadata={"source": str(path)})]


def load_recipe_documents(files: Sequence[Path]) -> list[Any]:
    """Load files the way a user following the LangChain docs would: ``.md``/``.txt`` as text
    (TextLoader), PDF page by page (PyPDFLoader), HTML with BSHTMLLoader (BeautifulSoup
    ``get_text``), DOCX with Docx2txtLoader. ``metadata["source"]`` is the file name;
    ``metadata["page"]`` the 1-based PDF page."""
    from langchain_community.document_loaders import BSHTMLLoader, PyPDFLoader, TextLoader

    docs: list[Any] = []
    for path in files:
        suffix = path.suffix.lower()
        if suffix in (".md", ".txt", ".rst"):
            loaded = TextLoader(str(path), encoding="utf-8").load()
        elif suffix == ".pdf":
            loaded = PyPDFLoader(str(path)).load()
            for d in loaded:
                d.metadata["page"] = int(d.metadata.get("page", 0)) + 1
        elif suffix in (".html", ".htm"):
            loaded = BSHTMLLoader(str(path), open_encoding="utf-8").load()
        elif suffix == ".docx":
            loaded = _docx_loader(path)
        else:
            raise ValueError(f"the recipe has no loader for {path.name}")
        for d in loaded:
            d.metadata["source"] = path.name
        docs.extend(loaded)
    return docs


def run_langchain_baseline(
    corpus: Path | Sequence[Path], questions: Sequence[Question], k: int = 10, warm: int = 3,
    progress: Progress | None = None, chunks_out: list[tuple[str, str]] | None = None,
) -> tuple[list[Retrieved], dict[str, Any]]:
    """The plain recipe: the format's LangChain loader (:func:`load_recipe_documents`),
    RecursiveCharacterTextSplitter(1000, 200), the same MiniLM model, LangChain's FAISS vector
    store, ``similarity_search_with_score``. ``top_score`` is the cosine similarity of the best
    passage (1 - squared L2 / 2: the model's vectors are unit length), comparable with
    Enclave's relevance floor. ``chunks_out`` receives ``(document, text)`` of every split."""
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from config import configure_offline
    from retrieval.backends.sentence_transformers import bundled_embedding_model_path

    configure_offline()
    warnings.filterwarnings("ignore", message=".*HuggingFaceEmbeddings.*deprecated.*")
    t0 = time.perf_counter()
    docs = load_recipe_documents(_corpus_paths(corpus))
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=bundled_embedding_model_path())
    store = FAISS.from_documents(splits, embeddings)
    ingest_s = time.perf_counter() - t0
    if progress:
        progress(f"baseline: {len(docs)} loaded documents -> {len(splits)} chunks "
                 f"in {ingest_s:.1f}s")
    if chunks_out is not None:
        chunks_out.extend((d.metadata["source"], d.page_content) for d in splits)
    for q in questions[:warm]:
        store.similarity_search(q.question, k=k)
    out = []
    for q in questions:
        t = time.perf_counter()
        found = store.similarity_search_with_score(q.question, k=k)
        dt = time.perf_counter() - t
        top = max((1.0 - float(s) / 2.0 for _, s in found), default=None)
        out.append(Retrieved([d.page_content for d, _ in found],
                             [d.metadata["source"] for d, _ in found], top, dt,
                             [d.metadata.get("page") for d, _ in found]))
    return out, {"loaded_documents": len(docs), "chunks": len(splits),
                 "ingest_seconds": round(ingest_s, 1)}


# -- one set, many sets ----------------------------------------------------------------------

BASELINE = "langchain-recipe"


@dataclass
class SetResult:
    """Everything one run measured on one set."""

    name: str
    split: str
    slice: bool
    n_questions: int
    reports: list[Report]
    sweep: dict[str, list[dict[str, float]]]
    info: dict[str, Any]
    per_question: dict[str, list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        return {"set": self.name, "split": self.split, "slice": self.slice,
                "n_questions": self.n_questions, "reports": [r.to_dict() for r in self.reports],
                "abstention_sweep": self.sweep, "info": self.info,
                "per_question": self.per_question}


def _per_question(questions: Sequence[Question], results: Sequence[Retrieved]
                  ) -> list[dict[str, Any]]:
    ranks = first_hit_ranks(questions, results)
    return [{"id": q.id, "answerable": q.answerable, "rank": rank,
             "top_score": None if r.top_score is None else round(r.top_score, 4),
             "doc_rank": next((i for i, d in enumerate(r.documents, 1) if d == q.document),
                              None)}
            for q, r, rank in zip(questions, results, ranks, strict=True)]


def evaluate_set(
    evalset: EvalSet, variants: dict[str, dict[str, Any]], *, split: str = "test",
    slice_: bool = False, baseline: bool = True, overrides: dict[str, Any] | None = None,
    floors: Sequence[float] = FLOORS, progress: Progress | None = None,
) -> SetResult:
    """Run the recipe (unless ``baseline`` is false) and every Enclave variant on one set and
    score them; the abstention rates are taken at ``retrieval.min_score`` (each variant's,
    the configured one for the recipe)."""
    from config import load_settings

    questions = evalset.questions(split, slice_)
    files = evalset.corpus_files(slice_)
    log = progress or (lambda _m: None)
    log(f"[{evalset.name}] {len(questions)} questions ({sum(q.answerable for q in questions)} "
        f"answerable), {len(files)} files, split={split}{' slice' if slice_ else ''}")
    reports: list[Report] = []
    sweep: dict[str, list[dict[str, float]]] = {}
    per_q: dict[str, list[dict[str, Any]]] = {}
    info: dict[str, Any] = {}
    configured_floor = load_settings(overrides=overrides or None).retrieval.min_score
    if baseline:
        chunks: list[tuple[str, str]] = []
        runs, info["baseline"] = run_langchain_baseline(files, questions, progress=log,
                                                        chunks_out=chunks)
        reports.append(score(BASELINE, questions, runs, chunks=chunks, floor=configured_floor))
        sweep[BASELINE] = abstention_table(questions, runs, floors)
        per_q[BASELINE] = _per_question(questions, runs)
    if variants:
        chunks = []
        runs_by_variant, info["enclave"] = run_enclave(files, questions, variants,
                                                       overrides=overrides, progress=log,
                                                       chunks_out=chunks, strict=False)
        for name, runs in runs_by_variant.items():
            system = f"enclave-{name}"
            reports.append(score(system, questions, runs, chunks=chunks,
                                 floor=info["enclave"]["min_score"][name]))
            sweep[system] = abstention_table(questions, runs, floors)
            per_q[system] = _per_question(questions, runs)
    return SetResult(evalset.name, split, slice_, len(questions), reports, sweep, info, per_q)


def macro_average(results: Sequence[SetResult]) -> list[Report]:
    """Per system, the unweighted mean of every metric over the sets it ran on."""
    systems: dict[str, list[Report]] = {}
    for res in results:
        for r in res.reports:
            systems.setdefault(r.system, []).append(r)
    out = []
    for system, reps in systems.items():
        def mean(values: Iterable[float | None]) -> float | None:
            vals = [v for v in values if v is not None]
            return statistics.fmean(vals) if vals else None

        report = Report(
            system, sum(r.n_answerable for r in reps),
            {k: statistics.fmean(r.hit_at[k] for r in reps) for k in KS},
            statistics.fmean(r.mrr10 for r in reps),
            {k: statistics.fmean(r.doc_recall_at[k] for r in reps) for k in KS},
            statistics.fmean(r.latency_mean_ms for r in reps),
            statistics.fmean(r.latency_p95_ms for r in reps),
            extra={"sets": len(reps)},
            n_unanswerable=sum(r.n_unanswerable for r in reps),
            contained=mean(r.contained for r in reps),
            floor=reps[0].floor if len({r.floor for r in reps}) == 1 else None,
            abstain_answerable=mean(r.abstain_answerable for r in reps),
            abstain_unanswerable=mean(r.abstain_unanswerable for r in reps),
        )
        out.append(report)
    return out


# -- against the recipe: paired differences with bootstrap intervals ------------------------

BOOTSTRAP_DRAWS = 5000


def _question_deltas(res: SetResult, system: str) -> dict[str, list[float]] | None:
    """Per answerable question, ``system`` minus the recipe: reciprocal rank (@10) and Hit@5."""
    base = {row["id"]: row for row in res.per_question.get(BASELINE, [])}
    rows = res.per_question.get(system)
    if not base or rows is None:
        return None
    pairs = [(row["rank"], base[row["id"]]["rank"]) for row in rows
             if row.get("answerable", True) and row["id"] in base]
    return {"mrr10": [_reciprocal_rank(a) - _reciprocal_rank(b) for a, b in pairs],
            "hit5": [_hit(a, 5) - _hit(b, 5) for a, b in pairs]}


def paired_bootstrap(groups: Sequence[Sequence[float]], draws: int = BOOTSTRAP_DRAWS,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-group means of paired differences, and its 95% percentile interval.

    Each group (one set's questions) is resampled with replacement on its own, so a macro
    average over sets is resampled set by set; one group is the plain paired bootstrap. The
    interval is what the question sample allows: one that spans 0 is no evidence either way.
    """
    import numpy as np

    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not groups:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.zeros(draws)
    for g in groups:
        means += g[rng.integers(0, len(g), size=(draws, len(g)))].mean(axis=1)
    means /= len(groups)
    point = float(np.mean([g.mean() for g in groups]))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return point, float(lo), float(hi)


def versus_baseline(results: Sequence[SetResult]) -> list[dict[str, Any]]:
    """Every Enclave system against the recipe, per set and (over several sets) macro:
    ``{"set", "system", "n", "hit5": (diff, lo, hi), "mrr10": (diff, lo, hi)}``."""
    out: list[dict[str, Any]] = []
    systems = list(dict.fromkeys(s for res in results for s in res.per_question
                                 if s != BASELINE))
    for system in systems:
        per_set = [(res.name, d) for res in results
                   if (d := _question_deltas(res, system)) is not None]
        for name, d in per_set:
            out.append({"set": name, "system": system, "n": len(d["mrr10"]),
                        "hit5": paired_bootstrap([d["hit5"]]),
                        "mrr10": paired_bootstrap([d["mrr10"]])})
        if len(per_set) > 1:
            out.append({"set": "macro", "system": system,
                        "n": sum(len(d["mrr10"]) for _, d in per_set),
                        "hit5": paired_bootstrap([d["hit5"] for _, d in per_set]),
                        "mrr10": paired_bootstrap([d["mrr10"] for _, d in per_set])})
    return out


def format_versus(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of :func:`versus_baseline`."""
    def cell(v: tuple[float, float, float]) -> str:
        return f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]"

    lines = ["| set | system | answerable | Hit@5 - recipe [95% CI] | MRR@10 - recipe [95% CI] |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['set']} | {r['system']} | {r['n']} | {cell(r['hit5'])} | {cell(r['mrr10'])} |"
              for r in rows]
    return "\n".join(lines)


# -- tables ----------------------------------------------------------------------------------

def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(reports: Sequence[Report]) -> str:
    """A Markdown table: passage metrics, containment, abstention at the floor, latency."""
    head = ("| system | Hit@1 | Hit@5 | Hit@10 | MRR@10 | DocRecall@5 | contained "
            "| abstain ans | abstain unans | mean ms | p95 ms |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(
            f"| {r.system} | {r.hit_at[1]:.3f} | {r.hit_at[5]:.3f} | {r.hit_at[10]:.3f} "
            f"| {r.mrr10:.3f} | {r.doc_recall_at[5]:.3f} | {_f(r.contained)} "
            f"| {_f(r.abstain_answerable)} | {_f(r.abstain_unanswerable)} "
            f"| {r.latency_mean_ms:.1f} | {r.latency_p95_ms:.1f} |"
        )
    return "\n".join(lines)


def format_sweep(sweep: dict[str, list[dict[str, float]]]) -> str:
    """A Markdown table: per system and floor, share abstaining on answerable / unanswerable."""
    if not sweep:
        return ""
    floors = [row["floor"] for row in next(iter(sweep.values()))]
    lines = ["| system | " + " | ".join(f"{f:.2f}" for f in floors) + " |",
             "|---|" + "---|" * len(floors)]
    for system, rows in sweep.items():
        cells = [f"{r['abstain_answerable']:.2f} / {r['abstain_unanswerable']:.2f}" for r in rows]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
