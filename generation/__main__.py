"""CLI: ``python -m generation "question" --collection NAME [--json]``.

Without ``--json`` the answer streams to the terminal, followed by its citations.
"""

from __future__ import annotations

import argparse
import json
import sys

from config.cli import cli_settings


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m generation", description=__doc__)
    parser.add_argument("question", help="the question to answer")
    parser.add_argument("--collection", "-c", required=True, help="collection to search")
    parser.add_argument("--k", type=int, default=None, help="passages given to the model")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    args = parser.parse_args(argv)
    settings = cli_settings(args.profile)
    if settings is None:
        return 2

    from generation.events import DoneEvent, TokenEvent
    from generation.stack import build_answerer
    from retrieval.retriever import UnknownCollectionError
    from retrieval.stack import build_retrieval_for_cli

    stack = build_retrieval_for_cli(settings)
    if stack is None:
        return 2
    answerer = build_answerer(settings, stack.retriever, stack.embedder)
    try:
        done = None
        for event in answerer.stream(args.question, args.collection, args.k):
            if isinstance(event, TokenEvent) and not args.json:
                print(event.text, end="", flush=True)
            elif isinstance(event, DoneEvent):
                done = event.answer
    except (UnknownCollectionError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        stack.close()
    assert done is not None
    answer = done
    if args.json:
        print(json.dumps({
            "answer": answer.answer,
            "abstained": answer.abstained,
            "model": answer.model,
            "citations": [
                {"n": c.n, "document": c.document, "page": c.page, "quote": c.quote,
                 "chunk_id": c.chunk_id, "span_start": c.span_start, "span_end": c.span_end}
                for c in answer.citations
            ],
            "mode": answer.mode,
            "sentences": [s.to_dict() for s in answer.sentences],
        }, indent=2))
    else:
        print("\n\n" + answer.answer)
        if answer.mode == "extractive":
            print("(extractive answer: quoted from the sources)")
        for s in answer.sentences:
            if not s.supported:
                print(f"  ! not supported by the cited source: {s.text}")
        for c in answer.citations:
            page = f", page {c.page}" if c.page else ""
            print(f"  [{c.n}] {c.document}{page}: \"{c.quote}\"")
        if answer.abstained and answer.sources:
            print("Closest passages:")
            for hit in answer.sources[:3]:
                print(f"  - {hit.document} ({hit.score:.2f}): {hit.text[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
