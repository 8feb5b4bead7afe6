"""Retrieval evaluation: Enclave (its retrieval variants) vs. the plain LangChain recipe.

    python bench/eval_retrieval.py                       # Debian FAQ set, all variants
    python bench/eval_retrieval.py --questions bench/data/debian_faq/questions-slice.jsonl
    python bench/eval_retrieval.py --variants hybrid-rrf --no-baseline

Prints a table and writes JSON (default bench/results/retrieval-<set>.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    abstention_table,
    format_table,
    load_questions,
    run_enclave,
    run_langchain_baseline,
    score,
)

DATA = REPO / "bench" / "data" / "debian_faq"
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},  # config/settings.yaml as shipped
    "dense": {"mode": "dense"},
    "keyword": {"mode": "keyword"},
    "hybrid-rrf": {"mode": "hybrid", "fusion": "rrf"},
    "hybrid-weighted-0.3": {"mode": "hybrid", "fusion": "weighted", "dense_weight": 0.3},
    "hybrid-weighted-0.5": {"mode": "hybrid", "fusion": "weighted", "dense_weight": 0.5},
    "hybrid-mmr-0.7": {"mode": "hybrid", "fusion": "weighted", "mmr_lambda": 0.7},
}
FLOORS = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus")
    parser.add_argument("--questions", type=Path, default=DATA / "questions.jsonl")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {', '.join(VARIANTS)}")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain recipe")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    parser.add_argument("--chunk-tokens", type=int, default=None,
                        help="override chunking.max_tokens for Enclave")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {unknown}")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{len(questions)} questions ({sum(q.answerable for q in questions)} answerable)")

    reports, info = [], {}
    if not args.no_baseline:
        base_runs, info["baseline"] = run_langchain_baseline(args.corpus, questions, progress=log)
        reports.append(score("langchain-recipe", questions, base_runs))
    overrides = {"chunking": {"max_tokens": args.chunk_tokens}} if args.chunk_tokens else None
    runs, info["enclave"] = run_enclave(args.corpus, questions,
                                        {n: VARIANTS[n] for n in names}, overrides=overrides,
                                        progress=log)
    abstention = {}
    for name, results in runs.items():
        reports.append(score(f"enclave-{name}", questions, results))
        abstention[name] = abstention_table(questions, results, FLOORS)

    print(format_table(reports))
    for name, rows in abstention.items():
        print(f"\nabstention by relevance floor (enclave-{name}): floor -> "
              "share abstaining on answerable / unanswerable")
        for row in rows:
            print(f"  {row['floor']:.2f}: {row['abstain_answerable']:.2f} / "
                  f"{row['abstain_unanswerable']:.2f}")
    out = args.out or REPO / "bench" / "results" / f"retrieval-{args.questions.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "questions": str(args.questions.relative_to(REPO) if args.questions.is_relative_to(REPO)
                         else args.questions),
        "reports": [r.to_dict() for r in reports], "abstention": abstention, "info": info,
    }, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
