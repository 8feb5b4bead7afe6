"""CLI: ``python -m retrieval "query" --collection NAME --k 10 --json`` or ``--queries FILE``.

Batch mode reads one question per line (or JSON lines with a ``question`` field) and writes
one JSON line of hits per question, all in one process with the model loaded once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config import ConfigError, configure_offline, load_settings


def read_queries(path: Path) -> list[str]:
    """Questions from a file: plain lines, or JSON lines with a ``question`` field."""
    questions = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from exc
            if not isinstance(record, dict) or not isinstance(record.get("question"), str):
                raise ValueError(f"{path}:{number}: JSON line has no string 'question' field")
            questions.append(record["question"])
        else:
            questions.append(line)
    return questions


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the retrieval CLI."""
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__)
    parser.add_argument("query", nargs="?", help="the question to search for")
    parser.add_argument("--collection", "-c", required=True, help="collection to search")
    parser.add_argument("--k", type=int, default=None, help="number of hits (default: top_k)")
    parser.add_argument("--queries", type=Path, help="batch mode: file of questions")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    if bool(args.query) == bool(args.queries):
        print("error: give a query or --queries FILE (not both)", file=sys.stderr)
        return 2
    configure_offline()
    try:
        settings = load_settings(profile=args.profile)
        questions = read_queries(args.queries) if args.queries else [args.query]
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from retrieval.retriever import UnknownCollectionError
    from retrieval.stack import build_retrieval_for_cli

    stack = build_retrieval_for_cli(settings)
    if stack is None:
        return 2
    try:
        results = stack.retriever.search_many(questions, args.collection, args.k)
    except UnknownCollectionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        stack.close()
    if args.queries:
        for question, hits in zip(questions, results, strict=True):
            print(json.dumps({"question": question, "hits": [h.to_dict() for h in hits]}))
    elif args.json:
        print(json.dumps({"query": args.query, "hits": [h.to_dict() for h in results[0]]},
                         indent=2))
    else:
        for rank, hit in enumerate(results[0], start=1):
            page = f" p.{hit.page}" if hit.page else ""
            print(f"{rank:>2}. [{hit.score:.3f}] {hit.document}{page}  {hit.heading_path}")
            print("    " + " ".join(hit.text.split())[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())
