"""CLI: ``python -m ingest PATH... --collection NAME [--json]`` and ``--check [--repair]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config import ConfigError, configure_offline, load_settings


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ingest CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Ingest files (PDF, DOCX, PPTX, XLSX, HTML, Markdown, text, EML) into a "
        "collection. Folders are walked recursively; a failing file never stops the batch.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders to ingest")
    parser.add_argument("--collection", "-c", default=None, help="target collection")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--check", action="store_true", help="check catalog <-> FAISS consistency and exit"
    )
    parser.add_argument("--repair", action="store_true", help="with --check: repair problems")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (1 if any file failed)."""
    args = build_parser().parse_args(argv)
    configure_offline()
    try:
        settings = load_settings(profile=args.profile)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.check and (not args.paths or not args.collection):
        print("error: give PATH... and --collection NAME (or --check)", file=sys.stderr)
        return 2

    from ingest.pipeline import FileResult, expand_paths, validate_collection_name
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    stack = build_retrieval(settings)
    ingestor = build_ingestor(stack)
    try:
        if args.check:
            problems = ingestor.check(repair=args.repair)
            if args.json:
                print(json.dumps({"problems": problems, "repaired": args.repair}))
            else:
                print("\n".join(problems) if problems else "catalog and index are consistent")
            return 1 if problems and not args.repair else 0

        try:
            validate_collection_name(args.collection)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        missing = [str(p) for p in args.paths if not p.exists()]
        if missing:
            print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
            return 2
        files = expand_paths(args.paths)
        show_bar = not args.json and sys.stderr.isatty()
        bar = None
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=len(files), unit="file", desc=f"ingest -> {args.collection}")

        def report(result: FileResult) -> None:
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(result.name[-30:])
            if args.json:
                return
            line = _describe(result)
            if bar is not None:
                bar.write(line)
            else:
                print(line, flush=True)

        results = ingestor.ingest_paths(files, args.collection, on_result=report)
        if bar is not None:
            bar.close()
        failed = [r for r in results if r.status == "failed"]
        if args.json:
            print(json.dumps({"collection": args.collection,
                              "results": [r.to_dict() for r in results]}, indent=2))
        else:
            counts = {s: sum(r.status == s for r in results)
                      for s in ("added", "replaced", "unchanged", "failed")}
            print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" ({len(results)} files)")
        return 1 if failed else 0
    finally:
        stack.close()


def _describe(result: object) -> str:
    from ingest.pipeline import FileResult

    assert isinstance(result, FileResult)
    if result.status == "failed":
        return f"FAILED     {result.name}: {result.error}"
    version = f" v{result.version}" if result.version and result.version > 1 else ""
    return f"{result.status:<10} {result.name}{version} ({result.chunks} chunks)"


if __name__ == "__main__":
    sys.exit(main())
