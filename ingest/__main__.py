"""CLI: ``python -m ingest PATH... --collection NAME [--json]``, ``--check [--repair]``.

``python -m ingest sync [--collection NAME] [--due] [--json]`` syncs the synced folders.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.cli import cli_settings

if TYPE_CHECKING:
    from config.settings import Settings


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
        "--restrict-to", default="", metavar="GROUPS",
        help="comma-separated groups: the documents are readable only by them (set in the "
        "same transaction as each document)",
    )
    parser.add_argument(
        "--check", action="store_true", help="check catalog <-> FAISS consistency and exit"
    )
    parser.add_argument("--repair", action="store_true", help="with --check: repair problems")
    parser.add_argument(
        "--rebuild-index", action="store_true",
        help="rebuild the vector index of --collection (default: every collection) in the "
        "structure retrieval.index names (Flat below flat_max_chunks, IVF above); atomic",
    )
    parser.add_argument(
        "--factory", default=None, metavar="FACTORY",
        help="with --rebuild-index: this structure instead of the settings' (Flat, "
        "IVF4096,SQ8, IVF1024,Flat, ...)",
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="finish jobs interrupted by a crash or restart (jobs.runner celery: send their "
        "unfinished files to the queue again, for a broker that lost its messages)",
    )
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    return parser


def build_sync_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m ingest sync``."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest sync",
        description="Sync the folders attached to collections (admin page or API) once: new "
        "files are added, changed ones replaced, documents whose file is gone deleted; each "
        "source's changes run as one ingest job, here.",
    )
    parser.add_argument("--collection", "-c", default=None,
                        help="only the sources of this collection")
    parser.add_argument("--due", action="store_true",
                        help="only the sources whose scheduled sync is due (for a cron job)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--profile", default=None, help="settings profile (ENCLAVE_PROFILE)")
    return parser


def _open(settings: Settings) -> tuple[Any, Any, Any] | None:
    """``(retrieval stack, ingestor, in-process job manager)``, or None (said why).

    None when the database cannot be opened (an out-of-date schema, for one).
    """
    from ingest.parsers.factory import build_parser

    # First, so the sandbox worker loads unstructured while this process imports the rest.
    parser = build_parser(settings)
    from ingest.jobs import JobManager
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval_for_cli

    stack = build_retrieval_for_cli(settings)
    if stack is None:
        close = getattr(parser, "close", None)
        if close is not None:
            close()
        return None
    ingestor = build_ingestor(stack, parser)
    return stack, ingestor, JobManager(stack.sessions, ingestor)


def sync_main(argv: list[str]) -> int:
    """``python -m ingest sync``: returns 1 if a source or a file failed."""
    args = build_sync_parser().parse_args(argv)
    settings = cli_settings(args.profile)
    if settings is None:
        return 2

    from ingest.sync import Syncer, source_ids

    opened = _open(settings)
    if opened is None:
        return 2
    stack, ingestor, jobs = opened
    syncer = Syncer(stack.sessions, ingestor, jobs, settings.ingest.sync_interval_s)
    try:
        if settings.jobs.runner != "celery":
            jobs.recover()
        ingestor.check(repair=True)
        ids = source_ids(stack.sessions, args.collection)
        if args.due:
            due = set(syncer.due_sources())
            ids = [i for i in ids if i in due]
        if not ids and not args.json:
            print("no sources to sync")
        out, bad = [], 0
        for source_id in ids:
            report = syncer.sync(source_id, created_by="cli")
            pending = jobs.get(report.job_id) if report.busy and report.job_id else None
            if (pending is not None and pending["status"] == "queued"
                    and settings.jobs.runner != "celery"):
                # its last sync was interrupted (recovered above): finish it, then sync again
                jobs.run(pending["id"])
                report = syncer.sync(source_id, created_by="cli")
            entry = report.to_dict()
            if report.error:
                bad += 1
            if not args.json:
                print(f"source {source_id} {report.path} -> {report.collection}: "
                      + (f"error: {report.error}" if report.error else
                         f"job {report.job_id} still running" if report.busy else
                         f"{len(report.new)} new, {len(report.changed)} changed, "
                         f"{len(report.deleted)} deleted, {report.unchanged} unchanged, "
                         f"{report.skipped} skipped"), flush=True)
            if report.job_id is not None and not report.busy:
                done = jobs.run(report.job_id)
                entry["status"] = done.get("status")
                entry["results"] = [{"name": f["name"], "status": f["status"],
                                     "document_id": f["document_id"], "version": f["version"],
                                     "chunks": f["chunks"], "error": f["error"]}
                                    for f in done.get("files", [])]
                bad += sum(f["status"] == "failed" for f in done.get("files", []))
                if not args.json:
                    for f in done.get("files", []):
                        print(f"  {f['status']:<10} {f['name']}"
                              + (f": {f['error']}" if f["error"] else ""), flush=True)
            out.append(entry)
        if args.json:
            print(json.dumps({"sources": out}, indent=2))
        return 1 if bad else 0
    finally:
        stack.close()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (1 if any file failed)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sync"]:  # a folder named sync: give it as ./sync
        return sync_main(argv[1:])
    args = build_parser().parse_args(argv)
    settings = cli_settings(args.profile)
    if settings is None:
        return 2
    if not (args.check or args.resume or args.rebuild_index) and (
            not args.paths or not args.collection):
        print("error: give PATH... and --collection NAME (or --check / --resume / "
              "--rebuild-index)",
              file=sys.stderr)
        return 2

    from ingest.jobs import JobManager, NewFile
    from ingest.pipeline import expand_paths, validate_collection_name

    opened = _open(settings)
    if opened is None:
        return 2
    stack, ingestor, jobs = opened
    try:
        if args.check:
            problems = ingestor.check(repair=args.repair) + jobs.check_orphans(repair=args.repair)
            if args.json:
                print(json.dumps({"problems": problems, "repaired": args.repair}))
            else:
                print("\n".join(problems) if problems else "catalog and index are consistent")
            return 1 if problems and not args.repair else 0

        if args.rebuild_index:
            return _rebuild(ingestor, args)

        if settings.jobs.runner == "celery" and args.resume:
            from ingest.queue import CeleryDispatcher

            queued = JobManager(stack.sessions, ingestor,
                                dispatch=CeleryDispatcher(settings)).requeue()
            print(f"{queued} unfinished files sent to the queue again")
            return 0

        # Startup recovery, as the web app does: interrupted jobs go back to the queue and
        # the index is re-aligned with the catalog (a crash may have hit between the two).
        # With Celery workers the broker holds unfinished jobs: they are not touched here.
        stack.embedder.warm_up()
        warm_parser = getattr(ingestor.parser, "warm_up", None)
        if warm_parser is not None:
            warm_parser()
        if settings.jobs.runner != "celery":
            jobs.recover()
        ingestor.check(repair=True)
        jobs.check_orphans(repair=True)
        if args.resume:
            job_ids = [j["id"] for j in jobs.list(limit=1000) if j["status"] == "queued"]
            if not job_ids:
                print("no interrupted jobs")
            failed = 0
            for job_id in reversed(job_ids):
                failed += _run_job(jobs, job_id, args, ingestor.stats)
            return 1 if failed else 0

        try:
            validate_collection_name(args.collection)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        missing = [str(p) for p in args.paths if not p.exists()]
        if missing:
            print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
            return 2
        files = [NewFile(path.resolve(), name) for path, name in expand_paths(args.paths)]
        restrict = [g.strip() for g in args.restrict_to.split(",") if g.strip()]
        if restrict:
            from retrieval.acl import get_group

            with stack.sessions() as session:
                new = [g for g in restrict if get_group(session, g) is None]
            if new:
                print(f"note: new group(s) {', '.join(new)}: nobody is in them yet",
                      file=sys.stderr)
        job_id = jobs.create(args.collection, files, source="cli", restrict_to=restrict,
                             created_by="cli")
        return 1 if _run_job(jobs, job_id, args, ingestor.stats) else 0
    finally:
        stack.close()


def _rebuild(ingestor: object, args: argparse.Namespace) -> int:
    """``--rebuild-index``: consistency first (repairing), then one rebuild per collection."""
    from ingest.pipeline import Ingestor

    assert isinstance(ingestor, Ingestor)
    ingestor.check(repair=True)
    try:
        lines = ingestor.rebuild_index(args.collection, args.factory,
                                       progress=lambda msg: print(msg, file=sys.stderr))
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"rebuilt": lines}))
    else:
        print("\n".join(lines) if lines else "no collections")
    return 0


def _run_job(jobs: object, job_id: int, args: argparse.Namespace, stats: object) -> int:
    """Run one job with terminal progress; returns the number of failed files."""
    from ingest.jobs import JobManager
    from ingest.results import FileResult, IngestStats

    assert isinstance(stats, IngestStats)

    assert isinstance(jobs, JobManager)
    job = jobs.get(job_id) or {}
    todo = [f for f in job.get("files", []) if f["status"] == "queued"]
    show_bar = not args.json and sys.stderr.isatty()
    bar = None
    if not args.json:
        print(f"job {job_id} started: {len(todo)} files -> {job.get('collection')}", flush=True)
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="file", desc=f"ingest -> {job.get('collection')}")

    def progress(kind: str, info: dict[str, object]) -> None:
        if kind == "stage":
            if bar is not None:
                bar.set_postfix_str(f"{info['stage']}: {str(info['name'])[-30:]}")
            return
        result = info["result"]
        assert isinstance(result, FileResult)
        if bar is not None:
            bar.update(1)
        if args.json:
            return
        line = _describe(result)
        if bar is not None:
            bar.write(line)
        else:
            print(line, flush=True)

    done = jobs.run(job_id, progress=progress)
    if bar is not None:
        bar.close()
    files = done.get("files", [])
    if args.json:
        print(json.dumps({"job": job_id, "collection": done.get("collection"),
                          "status": done.get("status"),
                          "results": [{"name": f["name"], "status": f["status"],
                                       "document_id": f["document_id"],
                                       "version": f["version"], "chunks": f["chunks"],
                                       "error": f["error"]} for f in files],
                          "stats": stats.to_dict()}, indent=2))
    else:
        counts = {s: sum(f["status"] == s for f in files)
                  for s in ("added", "replaced", "unchanged", "failed")}
        print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" ({len(files)} files)")
        if stats.chunks:
            print(f"{stats.text_chars / 1e6:.2f} MB of text, {stats.chunks} chunks; seconds: "
                  f"parse {stats.parse_s:.1f}, chunk {stats.chunk_s:.1f}, "
                  f"embed {stats.embed_s:.1f}, index {stats.index_s:.1f}")
    return sum(f["status"] == "failed" for f in files)


def _describe(result: object) -> str:
    from ingest.results import FileResult

    assert isinstance(result, FileResult)
    if result.status == "failed":
        return f"FAILED     {result.name}: {result.error}"
    if result.status == "deleted":
        return f"deleted    {result.name}"
    version = f" v{result.version}" if result.version and result.version > 1 else ""
    return f"{result.status:<10} {result.name}{version} ({result.chunks} chunks)"


if __name__ == "__main__":
    sys.exit(main())
