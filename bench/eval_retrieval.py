"""Retrieval evaluation on every set: Enclave (its retrieval variants) vs. the plain LangChain
recipe, per set and macro-averaged over sets.

    python bench/eval_retrieval.py                        # every set, test split, all variants
    python bench/eval_retrieval.py --split tune           # choose settings on the tune split
    python bench/eval_retrieval.py --sets curl_faq,zsh_faq --variants default,dense
    python bench/eval_retrieval.py --slice                # the regression slices (all splits)
    python bench/eval_retrieval.py --corpus DIR --questions FILE.jsonl   # any folder

Sets are found under bench/data/*/questions.jsonl. Each set is ingested once per system
(Enclave's real pipeline; the recipe with LangChain's loader for each format), then every
question runs under every variant. Prints Markdown tables and writes JSON (default
bench/results/retrieval-<split>[-slice].json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    BOOTSTRAP_DRAWS,
    DATA_DIR,
    FLOORS,
    EvalSet,
    SetResult,
    discover_sets,
    evaluate_set,
    format_sweep,
    format_table,
    format_versus,
    macro_average,
    versus_baseline,
)

VARIANTS: dict[str, dict[str, object]] = {
    "default": {},  # config/settings.yaml as shipped
    "dense": {"mode": "dense"},
    "keyword": {"mode": "keyword"},
    "hybrid-rrf": {"mode": "hybrid", "fusion": "rrf"},
    "hybrid-weighted-0.3": {"mode": "hybrid", "fusion": "weighted", "dense_weight": 0.3},
    "hybrid-weighted-0.5": {"mode": "hybrid", "fusion": "weighted", "dense_weight": 0.5},
    "hybrid-mmr-0.7": {"mode": "hybrid", "fusion": "weighted", "mmr_lambda": 0.7},
    "short-0.1": {"short_chunk_penalty": 0.1},
    "short-0.2": {"short_chunk_penalty": 0.2},
    "short-0.3": {"short_chunk_penalty": 0.3},
    "short-0.2-48": {"short_chunk_penalty": 0.2, "short_chunk_tokens": 48},
    "short-0.2-64": {"short_chunk_penalty": 0.2, "short_chunk_tokens": 64},
    "short-0.3-48": {"short_chunk_penalty": 0.3, "short_chunk_tokens": 48},
    "short-0.2-96": {"short_chunk_penalty": 0.2, "short_chunk_tokens": 96},
    "short-0.2-128": {"short_chunk_penalty": 0.2, "short_chunk_tokens": 128},
    "passages-in-section": {"passage_scope": "section"},  # the default before 2026-12-06
    "keyword-heading-0.5": {"keyword_heading_weight": 0.5},  # likewise
    "keyword-heading-0": {"keyword_heading_weight": 0.0},
    "keyword-no-phrases": {"keyword_phrases": False},  # the default before 2026-12-07
}


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR,
                        help="folder of sets (default bench/data)")
    parser.add_argument("--sets", type=_csv, default=None,
                        help="comma-separated set names (default: every set found)")
    parser.add_argument("--split", choices=("tune", "test", "all"), default=None,
                        help="questions to run (default: test; all with --slice)")
    parser.add_argument("--slice", action="store_true",
                        help="questions-slice.jsonl and, where a set has one, the documents of "
                             "corpus-slice.txt only")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="evaluate this folder instead of the sets (with --questions)")
    parser.add_argument("--questions", type=Path, default=None,
                        help="questions JSON lines for --corpus")
    parser.add_argument("--variants", type=_csv, default=list(VARIANTS),
                        help=f"comma-separated subset of {', '.join(VARIANTS)}")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain recipe")
    parser.add_argument("--no-enclave", action="store_true", help="run the recipe only")
    parser.add_argument("--chunk-tokens", type=int, default=None,
                        help="override chunking.max_tokens for Enclave")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)

    unknown = [n for n in args.variants if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {unknown}")
    split = args.split or ("all" if args.slice else "test")
    if args.corpus or args.questions:
        if not (args.corpus and args.questions):
            parser.error("--corpus and --questions go together")
        sets = [_adhoc_set(args.corpus, args.questions)]
    else:
        try:
            sets = discover_sets(args.data, args.sets)
        except ValueError as exc:
            parser.error(str(exc))
        if not sets:
            parser.error(f"no sets under {args.data}")
    variants = {} if args.no_enclave else {n: VARIANTS[n] for n in args.variants}
    overrides = {"chunking": {"max_tokens": args.chunk_tokens}} if args.chunk_tokens else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    started = time.time()
    results: list[SetResult] = []
    for evalset in sets:
        res = evaluate_set(evalset, variants, split=split, slice_=args.slice,
                           baseline=not args.no_baseline, overrides=overrides,
                           floors=FLOORS, progress=log)
        results.append(res)
        _print_set(res)
    macro = macro_average(results) if len(results) > 1 else []
    if macro:
        print(f"\n## Macro average over {len(results)} sets (split {split})\n")
        print(format_table(macro))
    versus = versus_baseline(results)
    if versus:
        print(f"\n## Against the recipe, paired by question (split {split})\n")
        print(format_versus(versus))
        print(f"\nDifference in Hit@5 and MRR@10 over the same answerable questions; 95% "
              f"percentile interval of {BOOTSTRAP_DRAWS} bootstrap resamples of the questions "
              "(macro: each set resampled on its own). An interval that spans 0 means the "
              "questions cannot tell the two apart.")

    out = args.out or REPO / "bench" / "results" / (
        f"retrieval-{split}{'-slice' if args.slice else ''}"
        + (f"-{sets[0].name}" if args.corpus else "") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "split": split, "slice": args.slice, "variants": variants,
        "sets": [r.to_dict() for r in results],
        "macro": [r.to_dict() for r in macro],
        "versus_recipe": versus,
        "seconds": round(time.time() - started, 1),
    }, indent=2))
    print(f"\nwrote {out}")
    return 0


def _adhoc_set(corpus: Path, questions: Path) -> EvalSet:
    """A one-off set from a folder and a questions file (``--corpus``/``--questions``)."""
    return EvalSet(questions.stem, corpus.parent, corpus_dir=corpus, questions_file=questions)


def _print_set(res: SetResult) -> None:
    print(f"\n## {res.name} (split {res.split}{', slice' if res.slice else ''}; "
          f"{res.reports[0].n_answerable if res.reports else 0} answerable, "
          f"{res.reports[0].n_unanswerable if res.reports else 0} unanswerable)\n")
    print(format_table(res.reports))
    floors = {r.floor for r in res.reports if r.floor is not None}
    if floors:
        print("\nabstain ans / unans: share of answerable / unanswerable questions the system "
              "abstains on. Enclave decides itself (the abstention model, retrieval/evidence.py, "
              "above the hard floor retrieval.min_score); the recipe abstains when its best "
              f"passage's cosine similarity is below {', '.join(map(str, sorted(floors)))}, "
              "the configured floor. The sweep below is by best-passage score alone.")
    print(f"\nAbstention by relevance floor ({res.name}; answerable / unanswerable):\n")
    print(format_sweep(res.sweep))


if __name__ == "__main__":
    sys.exit(main())
