"""Answer latency: first visible word and whole answer, with and without the draft watch.

    python bench/answer_latency.py                          # 10 questions per set, 4 sets
    python bench/answer_latency.py --per-set 5 --sets zsh_faq,curl_faq
    python bench/answer_latency.py --variants streaming-check

Each set's slice corpus (``corpus_files(slice_=True)``) is ingested into a throwaway data dir
through the real pipeline; a fixed sample of its slice questions (``questions-slice.jsonl``,
every n-th, answerable and unanswerable as they come) is asked through the real
:class:`~generation.answerer.Answerer` with the configured model (the bundled SmolLM2-135M by
default, on the CPU), once under each variant:

- ``write-then-check``: the behaviour before the draft watch (``early_stop_sentences`` 0,
  ``max_sentences`` 0): the model writes its whole draft, then it is checked and, in auto
  mode, replaced by quotes when it is not supported;
- ``streaming-check``: the shipped settings: the draft is checked sentence by sentence as it
  streams (:mod:`generation.draft`), and generation stops once it cannot pass or is long;
- ``streaming-check-pinned``: the same, with the preset's file loaded as it is pinned instead of
  its local conversion (``generation.convert_models`` false; the bundled Q4_1 instead of its
  BF16 or Q8_0 conversion, generation/convert.py): what the conversion saves, in the same run;
- ``quotes``: what a question costs when the model is skipped (its recent drafts over the
  collection were nearly all replaced, ``generation.skip_model_below``): the quotes at once,
  as in extractive mode. With ``streaming-check`` in the same run, *skipping (steady state)*
  mixes the two as a scope whose model is skipped sees them: one question in
  ``generation.draft_probe_every`` drafted (a probe), the others quoted.

The variants alternate which goes first per question, so neither always meets a warm cache,
and llama.cpp's prompt cache is reset before every answer (the second variant would otherwise
skip evaluating the prompt the first one just evaluated).
Per question: *first word* is the time from the call to the first visible text (the first
token event: a draft word, the quotes, or the no-evidence sentence); *whole* the time to the
done event (the checked answer). Both are taken on the wall clock and as the process's CPU
time: on a machine shared with other work the wall clock measures the neighbours too, while
the CPU time (llama.cpp runs one thread by default, the embedder's and FAISS's short
multi-threaded steps count at most their cost) estimates the wall time of a quiet machine.
Reported per variant: p50/p95 of both, the share of answers whose draft was replaced by
quotes (*fallback*), of abstentions, tokens generated, and, across variants, how often the
final outcome (kept / replaced / abstained) differs. A citation
*hits* when its passage contains the gold answer (``bench/harness.py``: ``is_hit``).
Writes JSON (default bench/results/answer-latency.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import DATA_DIR, Question, discover_sets, is_hit  # noqa: E402

#: generation settings of each variant (over the configured ones).
VARIANTS: dict[str, dict[str, Any]] = {
    "write-then-check": {"early_stop_sentences": 0, "max_sentences": 0, "skip_model_below": 0},
    "streaming-check": {"skip_model_below": 0},
    "streaming-check-pinned": {"skip_model_below": 0, "convert_models": False},
    "streaming-check-chars": {"skip_model_below": 0, "max_source_tokens": None},
    "quotes": {"mode": "extractive"},
}


class CountingGenerator:
    """Counts the pieces the wrapped model produced (a closed stream stops counting)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pieces = 0
        self.text = ""
        # The answerer caps sources in tokens only where the model counts them (llama.cpp), so
        # pass the inner model's counter through; a model server has none, and neither has this.
        count = getattr(inner, "count_tokens", None)
        if count is not None:
            self.count_tokens = count

    @property
    def model_name(self) -> str:
        return str(self.inner.model_name)

    def stream(self, messages: Any, max_tokens: int, temperature: float) -> Iterator[str]:
        reset = getattr(self.inner, "_model", None)
        if reset is not None:  # llama.cpp: forget the last prompt (no prefix reuse)
            reset().reset()
        stream = self.inner.stream(messages, max_tokens, temperature)
        try:
            for piece in stream:
                self.pieces += 1
                self.text += piece
                yield piece
        finally:
            stream.close()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def sample(questions: list[Question], n: int) -> list[Question]:
    """Every k-th question, ``n`` of them (deterministic)."""
    if n >= len(questions):
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def outcome(answer: dict[str, Any]) -> str:
    """``abstained``, ``replaced`` (quotes instead of the draft), ``kept`` or ``quoted``."""
    if answer["abstained"]:
        return "abstained"
    return answer.get("draft") or "quoted"


def ask_once(answerer: Any, counter: CountingGenerator, question: Question,
             collection: str) -> dict[str, Any]:
    """One timed answer."""
    from generation.events import DoneEvent, SourcesEvent, TokenEvent

    counter.pieces, counter.text = 0, ""
    t0, c0 = time.perf_counter(), time.process_time()
    first = first_cpu = None
    done = None
    sources = None
    for event in answerer.stream(question.question, collection):
        if isinstance(event, SourcesEvent):
            sources = event
        if first is None and isinstance(event, TokenEvent) and event.text.strip():
            first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        if isinstance(event, DoneEvent):
            done = event.answer.to_dict()
    whole, whole_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert done is not None and sources is not None
    # what was known before the model was asked (for a pre-check), outside the timing
    evidence = sources.evidence.to_dict() if sources.evidence else {}
    quotes = answerer.extractive(question.question, sources.sources)
    return {
        "top_score": evidence.get("top_score"), "p_unanswerable": evidence.get("p_unanswerable"),
        "coverage": evidence.get("coverage"),
        "quote_score": quotes.sentences[0].support_score if quotes.sentences else None,
        "id": question.id, "answerable": question.answerable, "first_word_s": first,
        "whole_s": whole, "first_word_cpu_s": first_cpu, "whole_cpu_s": whole_cpu,
        "outcome": outcome(done), "mode": done["mode"],
        "tokens": counter.pieces, "draft": counter.text, "answer": done["answer"],
        "cites_gold": bool(question.answerable and question.gold and any(
            is_hit(c["text"], question.gold) for c in done["citations"])),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 and shares of one variant."""
    n = len(rows)
    generated = [r for r in rows if r["tokens"]]
    out: dict[str, Any] = {"questions": n}
    for clock in ("", "cpu_"):
        firsts = [r[f"first_word_{clock}s"] for r in rows
                  if r[f"first_word_{clock}s"] is not None]
        wholes = [r[f"whole_{clock}s"] for r in rows]
        out |= {
            f"first_word_{clock}p50_s": percentile(firsts, 0.5),
            f"first_word_{clock}p95_s": percentile(firsts, 0.95),
            f"whole_{clock}p50_s": percentile(wholes, 0.5),
            f"whole_{clock}p95_s": percentile(wholes, 0.95),
            f"whole_{clock}mean_s": statistics.fmean(wholes),
            f"whole_{clock}total_s": sum(wholes),
        }
    return out | {
        "fallback": sum(r["outcome"] == "replaced" for r in rows) / n,
        "kept": sum(r["outcome"] == "kept" for r in rows) / n,
        "abstained": sum(r["outcome"] == "abstained" for r in rows) / n,
        "tokens_mean": statistics.fmean(r["tokens"] for r in generated) if generated else 0.0,
        "cites_gold": sum(r["cites_gold"] for r in rows) / max(1, sum(r["answerable"]
                                                                       for r in rows)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: all)")
    parser.add_argument("--per-set", type=int, default=10, help="questions asked per set")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "answer-latency.json")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if unknown := [v for v in variants if v not in VARIANTS]:
        parser.error(f"unknown variants {unknown}")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    from config import configure_offline, load_settings
    from generation.answerer import Answerer
    from generation.stack import build_generator
    from ingest.pipeline import expand_paths
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    configure_offline()
    sets = discover_sets(DATA_DIR, args.sets.split(",") if args.sets else None)
    rows: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    counters: dict[bool, CountingGenerator] = {}  # by generation.convert_models
    for evalset in sets:
        questions = sample(evalset.questions(slice_=True), args.per_set)
        with tempfile.TemporaryDirectory(prefix="enclave-latency-") as tmp:
            base = load_settings(overrides={"data_dir": tmp})
            stack = build_retrieval(base)
            try:
                t0 = time.perf_counter()
                results = build_ingestor(stack).ingest_paths(
                    expand_paths(evalset.corpus_files(slice_=True)), "eval")
                log(f"{evalset.name}: {len(results)} files -> "
                    f"{sum(r.chunks for r in results)} chunks in "
                    f"{time.perf_counter() - t0:.0f} s")
                settings = {v: load_settings(overrides={"data_dir": tmp,
                                                        "generation": VARIANTS[v]})
                            for v in variants}
                for v in variants:
                    convert = settings[v].generation.convert_models
                    if convert not in counters:
                        counters[convert] = CountingGenerator(build_generator(settings[v]))
                        counters[convert].inner.warm_up()
                counter_of = {v: counters[settings[v].generation.convert_models]
                              for v in variants}
                answerers = {
                    v: Answerer(settings[v], stack.retriever, counter_of[v],  # type: ignore[arg-type]
                                stack.embedder)
                    for v in variants
                }
                spare = [q for q in evalset.questions(slice_=True) if q not in questions]
                for v in variants:  # warm up (caches, ONNX sessions, each model file)
                    ask_once(answerers[v], counter_of[v], (spare or questions)[0], "eval")
                for i, q in enumerate(questions):
                    order = variants if i % 2 == 0 else variants[::-1]
                    line = []
                    for v in order:
                        row = ask_once(answerers[v], counter_of[v], q, "eval") | {
                            "set": evalset.name}
                        rows[v].append(row)
                        line.append(f"{v} {row['first_word_s'] or 0:.2f}/{row['whole_s']:.2f}s "
                                    f"(CPU {row['first_word_cpu_s'] or 0:.2f}/"
                                    f"{row['whole_cpu_s']:.2f}s) {row['outcome']} "
                                    f"{row['tokens']}t")
                    log(f"  [{evalset.name} {i + 1}/{len(questions)}] " + " | ".join(line))
            finally:
                stack.close()

    if "streaming-check" in rows and "quotes" in rows:
        probe_every = load_settings().generation.draft_probe_every
        rows["skipping (steady state)"] = [
            row for probe, quoted in zip(rows["streaming-check"], rows["quotes"], strict=True)
            for row in [probe] + [quoted] * (probe_every - 1)]
    table = {v: summarise(r) for v, r in rows.items()}
    changed = 0
    if "write-then-check" in rows and "streaming-check" in rows:
        a, b = rows["write-then-check"], rows["streaming-check"]
        changed = sum(x["outcome"] != y["outcome"] for x, y in zip(a, b, strict=True))
    lines = ["| variant | clock | questions | first word p50 / p95 s | whole answer p50 / p95 s "
             "| mean s | draft replaced by quotes | draft kept | abstained | tokens per draft "
             "| cites gold |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for v, m in table.items():
        for clock, name in (("", "wall"), ("cpu_", "CPU")):
            lines.append(
                f"| {v} | {name} | {m['questions']} | {m[f'first_word_{clock}p50_s']:.2f} / "
                f"{m[f'first_word_{clock}p95_s']:.2f} | {m[f'whole_{clock}p50_s']:.2f} / "
                f"{m[f'whole_{clock}p95_s']:.2f} | {m[f'whole_{clock}mean_s']:.2f} | "
                f"{m['fallback']:.2f} | {m['kept']:.2f} | {m['abstained']:.2f} | "
                f"{m['tokens_mean']:.0f} | {m['cites_gold']:.2f} |")
    print("\n".join(lines))
    if "write-then-check" in rows and "streaming-check" in rows:
        before, after = table["write-then-check"], table["streaming-check"]
        saved = before["whole_total_s"] - after["whole_total_s"]
        print(f"\noutcome differs on {changed} of {before['questions']} questions; "
              f"streaming-check saves {saved:.0f} s of {before['whole_total_s']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "model": next(iter(counters.values())).model_name if counters else None,
        "files": {str(k): str(c.inner.loaded.path) for k, c in counters.items()
                  if getattr(c.inner, "loaded", None) is not None},
        "variants": VARIANTS,
        "table": table, "outcome_changed": changed, "rows": rows}, indent=1), encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
