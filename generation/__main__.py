"""CLI: ``python -m generation "question" --collection NAME [--json]``.

Without ``--json`` the answer streams to the terminal, followed by its citations.

``python -m generation models`` lists the model presets (installed or not, licence, hash);
``python -m generation install-model NAME`` downloads, joins and verifies a preset's GGUF file
(generation/install.py; ``make model-qwen1.5b``).
"""

from __future__ import annotations

import argparse
import json
import sys

from config.cli import cli_settings


def models_main(argv: list[str]) -> int:
    """``python -m generation models``: every preset, whether installed, and the active one."""
    parser = argparse.ArgumentParser(prog="python -m generation models")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    args = parser.parse_args(argv)
    settings = cli_settings(args.profile)
    if settings is None:
        return 2
    from generation.models import ModelError, hash_cache, preset_file

    gen, cache = settings.generation, hash_cache(settings.gguf_dir)
    for name, preset in sorted(gen.all_presets().items()):
        try:
            path = preset_file(preset, settings.gguf_dir)
        except ModelError as exc:
            path, state = None, str(exc)
        else:
            known = cache.cached(path) if path.is_file() else None
            state = ("not installed" if not path.is_file() else
                     "installed" if known is None or not preset.sha256 else
                     "installed, verified" if known == preset.sha256 else "HASH MISMATCH")
        active = "*" if name == gen.preset and not gen.model_path else " "
        print(f"{active} {name:<22} {preset.title} · {preset.licence} · {state}")
        print(f"    {path or preset.file}")
    if gen.model_path:
        print(f"* generation.model_path: {gen.model_path}")
    return 0


def install_model_main(argv: list[str]) -> int:
    """``python -m generation install-model NAME``: 1 when it was refused."""
    parser = argparse.ArgumentParser(prog="python -m generation install-model")
    parser.add_argument("name", help="preset name (python -m generation models)")
    parser.add_argument("--keep-downloads", action="store_true",
                        help="keep the downloaded parts (e.g. to copy to an air-gapped host)")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    args = parser.parse_args(argv)
    settings = cli_settings(args.profile)
    if settings is None:
        return 2
    from generation.install import InstallError, install_preset

    presets = settings.generation.all_presets()
    if args.name not in presets:
        print(f"error: no preset {args.name!r}; known: {', '.join(sorted(presets))}",
              file=sys.stderr)
        return 2
    try:
        done = install_preset(args.name, presets[args.name], settings.gguf_dir,
                              keep_downloads=args.keep_downloads,
                              progress=lambda msg: print(msg, flush=True))
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{done.path}\n  {done.size_bytes:,} bytes, SHA-256 {done.sha256} (verified)\n"
          f"Use it: generation.preset: {args.name} in config/settings.yaml, or "
          f"ENCLAVE_GENERATION__PRESET={args.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"models": models_main, "install-model": install_model_main}
    if argv[:1] and argv[0] in commands:  # a question that is one of these words: add a "?"
        return commands[argv[0]](argv[1:])
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
            "draft": answer.draft,
            "sentences": [s.to_dict() for s in answer.sentences],
        }, indent=2))
    else:
        if answer.draft == "replaced":  # the draft printed above is not the answer
            print("\n\n(the draft above was not supported by its sources; the answer instead:)")
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
