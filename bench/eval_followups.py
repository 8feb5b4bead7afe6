"""Follow-up questions: retrieval with and without the follow-up rewrite (generation/followup.py).

    python bench/eval_followups.py                       # every set, tune and test splits
    python bench/eval_followups.py --sets zsh_faq --methods off,rules
    python bench/eval_followups.py --show                # print the rewrites, no retrieval

Each set's ``followups.jsonl`` (bench/build_followups.py) holds two-turn conversations: the
follow-up is searched after each rewrite method (``off``: on its own words, ``concat``,
``rules``, ``model``: the bundled LLM) with the first question as the conversation, and scored
against the gold passage of the question it stands for (Hit@k, MRR@10, as in
``bench/harness.py``). ``standalone`` (the set's original, self-contained question) is the
ceiling. Each set is ingested once (Enclave's real pipeline and retriever, shipped settings).
Prints Markdown tables per split and the time per rewrite; writes JSON
(default bench/results/followups.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    DATA_DIR,
    Question,
    SetResult,
    discover_sets,
    load_questions,
    macro_average,
    run_enclave,
    score,
)

METHODS = ("off", "concat", "rules", "rules-always", "model")
REFERENCE = "standalone"


def load_followups(path: Path) -> list[tuple[Question, str, str]]:
    """(question, first question, standalone question) of every conversation in ``path``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    questions = load_questions(path)
    return [(q, r["first"], r["standalone"]) for q, r in zip(questions, rows, strict=True)]


def rewrites(convs: list[tuple[Question, str, str]], methods: list[str],
             log=lambda _m: None) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """The query of every conversation under each method, and the seconds each took."""
    from config import configure_offline, load_settings
    from generation.followup import FollowupRewriter, rewrite_rules
    from generation.stack import build_generator

    configure_offline()
    generator = None
    if "model" in methods:
        generator = build_generator(load_settings())
        generator.warm_up()  # type: ignore[attr-defined]
    queries: dict[str, list[str]] = {}
    seconds: dict[str, list[float]] = {}
    for method in methods:
        rw = FollowupRewriter("rules" if method == "rules-always" else method, generator)
        queries[method], seconds[method] = [], []
        for q, first, _ in convs:
            t0 = time.perf_counter()
            if method == "rules-always":  # bench-only: the topic words added to every question
                query = rewrite_rules(first, q.question, always=True)
            else:
                query = rw.rewrite([first], q.question).query
            queries[method].append(query)
            seconds[method].append(time.perf_counter() - t0)
        log(f"rewrites[{method}]: mean {1000 * statistics.fmean(seconds[method]):.1f} ms"
            + (f", {rw.model_rejected} model replies rejected" if method == "model" else ""))
    queries[REFERENCE] = [s for _, _, s in convs]
    return queries, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=None, help="comma-separated set names")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument("--show", action="store_true", help="print the rewrites and stop")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" /
                        "followups.json")
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if unknown := [m for m in methods if m not in METHODS]:
        parser.error(f"unknown methods {unknown}")
    names = args.sets.split(",") if args.sets else None
    sets = [s for s in discover_sets(DATA_DIR, names) if (s.root / "followups.jsonl").exists()]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    out: dict[str, object] = {"methods": methods, "sets": {}, "seconds_per_rewrite": {}}
    by_split: dict[str, list[SetResult]] = {"tune": [], "test": []}
    all_seconds: dict[str, list[float]] = {m: [] for m in methods}
    for evalset in sets:
        convs = load_followups(evalset.root / "followups.jsonl")
        queries, seconds = rewrites(convs, methods, log)
        for m in methods:
            all_seconds[m].extend(seconds[m])
        if args.show:
            for i, (q, first, standalone) in enumerate(convs):
                print(f"\n[{q.id}] {first} -> {q.question}   (standalone: {standalone})")
                for m in methods:
                    print(f"  {m:7s} {queries[m][i]}")
            continue
        systems = [*methods, REFERENCE]
        combined = [replace(q, id=f"{s}:{q.id}", question=queries[s][i])
                    for s in systems for i, (q, _, _) in enumerate(convs)]
        runs, info = run_enclave(evalset.corpus_files(), combined, {"default": {}},
                                 progress=log, strict=False)
        results = runs["default"]
        per_set: dict[str, object] = {"info": info, "per_question": {}}
        for split in ("tune", "test"):
            reports = []
            for s in systems:
                pairs = [(q, r) for q, r in zip(combined, results, strict=True)
                         if q.id.startswith(f"{s}:") and q.split == split]
                rep = score(s, [q for q, _ in pairs], [r for _, r in pairs])
                reports.append(rep)
            by_split[split].append(SetResult(evalset.name, split, False, len(convs) // 2,
                                             reports, {}, info, {}))
            per_set[split] = [r.to_dict() for r in reports]
            print(f"\n## {evalset.name} follow-ups, split {split} "
                  f"({reports[0].n_answerable} conversations)\n")
            print(_table(reports))
        per_set["queries"] = {s: dict(zip([q.id for q, _, _ in convs], queries[s],
                                          strict=True)) for s in systems}
        out["sets"][evalset.name] = per_set  # type: ignore[index]
    if args.show:
        return 0
    for split, results in by_split.items():
        if len(results) > 1:
            macro = macro_average(results)
            out[f"macro_{split}"] = [r.to_dict() for r in macro]
            print(f"\n## Macro average over {len(results)} sets, follow-ups, split {split}\n")
            print(_table(macro))
    print("\nSeconds per rewrite (mean / p95 ms):")
    for m, secs in all_seconds.items():
        secs = sorted(secs) or [0.0]
        p95 = secs[min(len(secs) - 1, int(round(0.95 * (len(secs) - 1))))]
        out["seconds_per_rewrite"][m] = {  # type: ignore[index]
            "mean_ms": 1000 * statistics.fmean(secs), "p95_ms": 1000 * p95}
        print(f"- {m}: {1000 * statistics.fmean(secs):.1f} / {1000 * p95:.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwrote {args.out}")
    return 0


def _table(reports) -> str:  # type: ignore[no-untyped-def]
    lines = ["| rewrite | Hit@1 | Hit@5 | Hit@10 | MRR@10 |", "|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.system} | {r.hit_at[1]:.3f} | {r.hit_at[5]:.3f} "
                     f"| {r.hit_at[10]:.3f} | {r.mrr10:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
