"""Answer evaluation per model preset: generative vs extractive vs auto, handbook and FAQ sets.

    python bench/eval_answers.py                                 # default preset, handbook
    python bench/eval_answers.py --preset qwen2.5-coder-1.5b --sets all --per-set 8
    python bench/eval_answers.py --model-path /models/other.gguf --sets curl_faq

Each set is ingested into a throwaway data dir through the real pipeline: the sample handbook
(scripts/make_sample_corpus.py, 23 questions with short gold answers) and, with ``--sets``,
the retrieval harness's sets (bench/data/<set>: the slice corpus and the first ``--per-set``
answerable questions of its slice, whose gold is the FAQ's answer section). Each question is
asked once with the model (greedy-ish, fixed seed); the raw generated text is then finished
under each answer policy (the same model output, so the rows differ only by what happens
after generation):

- ``generative`` / ``generative+drop``: the model's answer, unsupported sentences flagged /
  dropped;
- ``extractive``: quoted passage sentences, no model call;
- ``auto`` (the default): generative, replaced by extractive when fewer than
  ``generation.auto_min_supported`` of the sentences are supported.

Metrics (over all questions of a set unless said otherwise):

- *correct*: handbook: the gold answer string occurs in the answer (case-insensitive); FAQ
  sets (no short gold): a sentence that passes the support check cites a passage holding the
  gold answer section (the harness's hit rule, bench/harness.py ``is_hit``) and uses a word of
  the gold answer that the question does not (so a restated question does not count) -- an
  approximation: the answer is drawn from the right place, not judged for completeness;
- *token F1*: word-level F1 of the answer (citation markers removed) against the gold;
- *citation precision*: share of citations whose passage is from the gold document and
  contains the gold answer (string, or hit for the FAQ sets);
- *flagged*: share of answer sentences marked unsupported (answers that abstained excluded);
- *true, not an answer*: answers whose every sentence passes the support check (true to
  the sources, as far as the check can tell) but that are not *correct* -- the automatic
  stand-in for "true but does not answer the question" (it also counts a correct answer the
  check cannot see, e.g. a paraphrase without the gold string; read the JSON to confirm);
- *first token* (median) and *total* (mean): seconds from the question to the model's first
  token (questions the model was asked: not the abstentions) and to the finished answer,
  retrieval included; the model is loaded before the first question (extractive: no model
  call, no first token).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench.harness import discover_sets, is_hit, words  # noqa: E402
from config import configure_offline, load_settings  # noqa: E402

POLICIES = {
    "generative": {"mode": "generative", "unsupported": "flag"},
    "generative+drop": {"mode": "generative", "unsupported": "drop"},
    "extractive": {"mode": "extractive"},
    "auto": {"mode": "auto", "unsupported": "flag"},
}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER = re.compile(r"\[\d{1,2}\]")
_FILLER = frozenset({"the", "answer", "according", "source", "sources", "document", "documents",
                     "question", "information", "provided", "and", "that", "this", "for",
                     "are", "with", "not", "can", "you", "your"})


@dataclass(frozen=True)
class Item:
    """One answerable question with its gold answer and how to judge a passage against it."""

    question: str
    gold: str
    document: str
    short_gold: bool  # handbook: the gold is a short string that a right answer contains

    def passage_holds_gold(self, text: str) -> bool:
        """Whether a cited passage contains the gold answer."""
        return (self.gold.lower() in text.lower()) if self.short_gold else is_hit(text, self.gold)


def token_f1(answer: str, gold: str) -> float:
    """Word-level F1 (SQuAD style, lower-cased alphanumeric tokens)."""
    pred = _TOKEN.findall(_MARKER.sub(" ", answer).lower())
    ref = _TOKEN.findall(gold.lower())
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    p, r = common / len(pred), common / len(ref)
    return 2 * p * r / (p + r)


def adds_to_question(sentence: str, question: str, gold: str) -> bool:
    """Whether ``sentence`` says something of the gold answer beyond the question's own words
    (a restated question citing the right passage is no answer)."""
    asked = set(words(question)) | _FILLER
    return any(len(w) > 2 and w not in asked for w in set(words(sentence)) & set(words(gold)))


def verdict(item: Item, row: dict[str, Any]) -> dict[str, bool]:
    """``correct`` and ``true_not_answer`` of a judged row (its citations already marked)."""
    sentences = row["sentences"]
    if item.short_gold:
        correct = item.gold.lower() in row["answer"].lower()
    else:
        good = {c["n"] for c in row["citations"] if c["correct"]}
        correct = not row["abstained"] and any(
            s["supported"] and good & set(s["citations"])
            and adds_to_question(s["text"], item.question, item.gold) for s in sentences)
    true_only = (not row["abstained"] and not correct and bool(sentences)
                 and all(s["supported"] for s in sentences))
    return {"correct": correct, "true_not_answer": true_only}


def judge(item: Item, answer: dict[str, Any]) -> dict[str, Any]:
    """The per-question row of one finished answer."""
    row = {"answer": answer["answer"], "mode": answer["mode"], "abstained": answer["abstained"],
           "f1": token_f1(answer["answer"], item.gold),
           "citations": [{"n": c["n"], "document": c["document"],
                          "correct": c["document"] == item.document
                          and item.passage_holds_gold(c["text"])}
                         for c in answer["citations"]],
           "sentences": [{"supported": s["supported"], "text": s["text"],
                          "citations": s.get("citations", [])} for s in answer["sentences"]]}
    return {**row, **verdict(item, row)}


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate metrics of one policy."""
    n = len(rows)
    cits = [c for r in rows for c in r["citations"]]
    sentences = [s for r in rows if not r["abstained"] for s in r["sentences"]]
    firsts = [r["first_token_s"] for r in rows if r.get("first_token_s") is not None]
    return {
        "questions": n,
        "answered": sum(not r["abstained"] for r in rows) / n,
        "correct": sum(r["correct"] for r in rows) / n,
        "token_f1": sum(r["f1"] for r in rows) / n,
        "citation_precision": (sum(c["correct"] for c in cits) / len(cits)) if cits else 0.0,
        "citations_per_answer": len(cits) / n,
        "flagged": (sum(not s["supported"] for s in sentences) / len(sentences)
                    if sentences else 0.0),
        "true_not_answer": sum(r["true_not_answer"] for r in rows) / n,
        "extractive_share": sum(r["mode"] == "extractive" for r in rows) / n,
        "first_token_s": statistics.median(firsts) if firsts else None,
        "total_s": sum(r["total_s"] for r in rows) / n,
    }


def handbook_items(corpus: Path) -> tuple[list[Path], list[Item]]:
    """The sample handbook, written to ``corpus``, and its questions."""
    from make_sample_corpus import QUESTIONS

    subprocess.run([sys.executable, str(REPO / "scripts" / "make_sample_corpus.py"),
                    str(corpus)], check=True, capture_output=True)
    return (sorted(corpus.iterdir()),
            [Item(q["question"], q["answer"], q["document"], True) for q in QUESTIONS])


def harness_items(name: str, per_set: int) -> tuple[list[Path], list[Item]]:
    """A harness set's slice corpus and its first ``per_set`` answerable slice questions."""
    (evalset,) = discover_sets(names=[name])
    questions = [q for q in evalset.questions(slice_=True) if q.answerable and q.document]
    return (evalset.corpus_files(slice_=True),
            [Item(q.question, q.gold, str(q.document), False) for q in questions[:per_set]])


def _ask(answerers: dict[str, Any], item: Item, collection: str) -> list[dict[str, Any]]:
    """One model call for ``item``, its raw text finished under every policy (one row each)."""
    from generation.events import SourcesEvent, TokenEvent, final_answer

    t0 = time.perf_counter()
    first: float | None = None
    events = []
    for event in answerers["generative"].stream(item.question, collection):
        if first is None and isinstance(event, TokenEvent):
            first = time.perf_counter() - t0
        events.append(event)
    gen_s = time.perf_counter() - t0
    raw = "".join(e.text for e in events if isinstance(e, TokenEvent))
    sources = next((e.sources for e in events if isinstance(e, SourcesEvent)), [])
    if final_answer(events).answer.abstained:
        first = None  # the model was not asked: no first token to time
    rows = []
    for policy, answerer in answerers.items():
        t1 = time.perf_counter()
        if policy == "extractive":  # retrieval + quoting, no model call
            answer = answerer.ask(item.question, collection).to_dict()
            total, first_token = time.perf_counter() - t1, None
        else:
            answer = answerer.finish(item.question, raw, sources).to_dict()
            total, first_token = gen_s + time.perf_counter() - t1, first
        rows.append({"policy": policy, "question": item.question, "gold": item.gold[:300],
                     "document": item.document, **judge(item, answer), "raw": raw,
                     "first_token_s": first_token, "total_s": total})
    return rows


def run_set(name: str, files: list[Path], items: list[Item],
            presets: dict[str, dict[str, Any]], data: Path, log: Callable[[str], None]
            ) -> dict[str, dict[str, Any]]:
    """Ingest ``files`` once; ask every item of it with each preset in turn.

    The presets take turns question by question, so that a machine shared with other work
    slows them alike. Returns ``{preset: {table, results}}``.
    """
    from generation.answerer import Answerer
    from generation.stack import build_generator
    from ingest.pipeline import expand_paths
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    first_overrides = next(iter(presets.values()))
    stack = build_retrieval(load_settings(overrides={**first_overrides, "data_dir": str(data)}))
    try:
        results = build_ingestor(stack).ingest_paths(expand_paths(files), name)
        failed = [r.name for r in results if r.status == "failed"]
        log(f"{name}: {len(results)} files ingested ({len(failed)} failed), "
            f"{len(items)} questions")
        answerers: dict[str, dict[str, Any]] = {}
        for label, overrides in presets.items():
            generator = build_generator(load_settings(overrides={**overrides,
                                                                 "data_dir": str(data)}))
            answerers[label] = {
                policy: Answerer(load_settings(overrides={
                    **overrides, "data_dir": str(data),
                    "generation": {**overrides.get("generation", {}), **values}}),
                    stack.retriever, generator, stack.embedder)
                for policy, values in POLICIES.items()
            }
            answerers[label]["generative"].warm_up()  # load before the clock starts
        rows: dict[str, dict[str, list[dict[str, Any]]]] = {
            label: {policy: [] for policy in POLICIES} for label in presets}
        for i, item in enumerate(items, 1):
            for label in presets:
                for row in _ask(answerers[label], item, name):
                    rows[label][row.pop("policy")].append(row)
                done = rows[label]["generative"][-1]
                log(f"  [{i}/{len(items)}] {label}: first token "
                    f"{_f(done['first_token_s'], 1)} s, total {done['total_s']:.1f} s: "
                    f"{item.question[:60]}")
        return {label: {"failed_files": failed,
                        "table": {p: score(r) for p, r in by_policy.items()},
                        "results": by_policy}
                for label, by_policy in rows.items()}
    finally:
        stack.close()


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(sets: dict[str, dict[str, dict[str, Any]]],
                 policies: tuple[str, ...] = tuple(POLICIES)) -> str:
    """One Markdown row per (set, preset, policy)."""
    lines = ["| set | preset | policy | answered | correct | citation precision "
             "| flagged sentences | true, not an answer | extractive "
             "| first token s (median) | total s (mean) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, by_preset in sets.items():
        for label, result in by_preset.items():
            for policy, m in result["table"].items():
                if policy not in policies:
                    continue
                lines.append(
                    f"| {name} | {label} | {policy} | {_f(m['answered'])} | {_f(m['correct'])} "
                    f"| {_f(m['citation_precision'])} | {_f(m['flagged'])} | "
                    f"{_f(m['true_not_answer'])} | {_f(m['extractive_share'])} | "
                    f"{_f(m['first_token_s'], 1)} | {_f(m['total_s'], 1)} |")
    return "\n".join(lines)


def rescore(path: Path) -> str:
    """Apply the current :func:`verdict` to the rows of an earlier run's JSON; rewrite it."""
    data = json.loads(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        items = {}
        for name in data["sets"]:
            found = (handbook_items(Path(tmp) / name)[1] if name == "handbook"
                     else harness_items(name, 10_000)[1])
            items[name] = {item.question: item for item in found}
    for name, by_preset in data["sets"].items():
        for result in by_preset.values():
            for rows in result["results"].values():
                for row in rows:
                    row.update(verdict(items[name][row["question"]], row))
            result["table"] = {p: score(r) for p, r in result["results"].items()}
    data["markdown"] = format_table(data["sets"])
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return str(data["markdown"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=None,
                        help="generation.preset to evaluate, or several comma-separated "
                        "(they take turns question by question; default: the configured one)")
    parser.add_argument("--model-path", default=None, help="a GGUF file instead of a preset")
    parser.add_argument("--sets", default="handbook",
                        help="comma-separated: handbook and/or harness sets (bench/data), "
                        "or 'all'")
    parser.add_argument("--per-set", type=int, default=8,
                        help="answerable questions per harness set (first of its slice)")
    parser.add_argument("--limit", type=int, default=None,
                        help="first N handbook questions only")
    parser.add_argument("--threads", type=int, default=None, help="generation.n_threads")
    parser.add_argument("--rescore", type=Path, default=None, metavar="JSON",
                        help="judge the answers of an earlier run again (no model call)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON results, rewritten after every set (default "
                        "bench/results/answers-<preset[+preset]>.json)")
    args = parser.parse_args(argv)
    if args.rescore:
        print(rescore(args.rescore))
        return 0
    configure_offline()
    common: dict[str, Any] = {"n_threads": args.threads} if args.threads else {}
    presets: dict[str, dict[str, Any]] = {}
    if args.model_path:
        presets[Path(args.model_path).stem] = {
            "generation": {**common, "model_path": args.model_path}}
    for name in (args.preset.split(",") if args.preset else
                 ([] if args.model_path else [load_settings().generation.preset])):
        presets[name.strip()] = {"generation": {**common, "preset": name.strip()}}
    models = {}
    for label, overrides in presets.items():
        settings = load_settings(overrides=overrides)  # an unknown preset fails here, named
        from generation.stack import build_generator

        info = getattr(build_generator(settings), "model_info", None)
        models[label] = info().to_dict() if info else {"name": label}
    names = (["handbook", *(s.name for s in discover_sets())] if args.sets == "all"
             else [n.strip() for n in args.sets.split(",") if n.strip()])
    out = args.out or REPO / "bench" / "results" / f"answers-{'+'.join(presets)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    sets: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="enclave-answers-") as tmp:
        for name in names:
            if name == "handbook":
                files, items = handbook_items(Path(tmp) / "handbook-corpus")
                items = items[: args.limit] if args.limit else items
            else:
                files, items = harness_items(name, args.per_set)
            sets[name] = run_set(name, files, items, presets, Path(tmp) / f"data-{name}", log)
            table = format_table(sets)
            out.write_text(json.dumps({"presets": models, "markdown": table, "sets": sets},
                                      indent=1), encoding="utf-8")
            log(f"{table}\nwrote {out}")
    print(format_table(sets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
