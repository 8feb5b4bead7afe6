"""Synced folders: add/change/delete cycles through real ingest jobs, per-subfolder
restrictions, the folder walk's refusals, the schedule, the CLI and SIGKILL mid-sync."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Document, SyncSource, SyncSourceFile, now
from ingest.jobs import JobManager
from ingest.sources import FolderSource
from ingest.sync import Syncer, due, groups_for, normalize_subfolder
from retrieval.acl import document_restrictions
from tests.conftest import REPO, make_settings


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {path.stem}\n\n{text}\n", encoding="utf-8")
    return path


def _source(sessions: Any, collection: str, folder: Path, **fields: Any) -> int:
    with sessions() as db:
        row = SyncSource(collection=collection, path=str(folder), **fields)
        db.add(row)
        db.commit()
        return row.id


def _docs(sessions: Any, collection: str = "team") -> dict[str, tuple[str, int]]:
    from db.models import Collection

    with sessions() as db:
        rows = db.execute(select(Document.name, Document.status, Document.version)
                          .join(Collection).where(Collection.name == collection)).all()
    return {name: (status, version) for name, status, version in rows}


def _files(job: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["status"] for f in job["files"]}


# -- pure parts ------------------------------------------------------------------------------
def test_groups_of_the_longest_restricted_subfolder() -> None:
    rules = {"hr": ["hr"], "hr/pay": ["payroll", "hr"]}
    assert groups_for("hr/a.md", rules) == ("hr",)
    assert groups_for("hr/pay/b.md", rules) == ("hr", "payroll")
    assert groups_for("hrx/c.md", rules) == ()
    assert groups_for("hr", rules) == ()  # a file named like the folder is not in it
    assert normalize_subfolder("/hr/pay/") == "hr/pay"
    for bad in ("", "/", "../etc", "hr/.git"):
        with pytest.raises(ValueError):
            normalize_subfolder(bad)


def test_due_follows_the_interval_and_the_setting() -> None:
    t = now()
    row = SyncSource(collection="c", path="/x", enabled=True, interval_s=None, last_run_at=None)
    assert due(row, 3600, t)
    row.last_run_at = t - timedelta(seconds=100)
    assert not due(row, 3600, t) and due(row, 60, t)
    row.interval_s = 50
    assert due(row, 3600, t)
    row.interval_s = 0  # on demand only
    assert not due(row, 60, t)
    row.interval_s, row.enabled = None, False
    assert not due(row, 60, t)
    row.enabled = True
    assert not due(row, 0, t)  # the setting 0: no scheduled syncs


def test_folder_walk_skips_hidden_files_and_refuses_symlink_escapes(tmp_path: Path) -> None:
    root = tmp_path / "share"
    outside = _write(tmp_path / "secret.md", "outside the share")
    _write(root / "a.md", "a")
    _write(root / "sub" / "b.md", "b")
    _write(root / ".hidden.md", "hidden")
    _write(root / ".git" / "c.md", "hidden folder")
    (root / "escape.md").symlink_to(outside)
    (root / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    (root / "inside-link.md").symlink_to(root / "a.md")
    (root / "dangling.md").symlink_to(tmp_path / "missing.md")
    os.mkfifo(root / "pipe.md")
    source = FolderSource(root)
    names = [e.name for e in source.entries()]
    assert names == ["a.md", "inside-link.md", "sub/b.md"]
    entry = source.entries()[0]
    assert len(source.content_hash(entry)) == 64
    assert source.local_path(entry) == (root / "a.md").resolve()
    with source.open(entry) as fh:
        assert fh.read().startswith(b"# a")
    with pytest.raises(FileNotFoundError):
        FolderSource(tmp_path / "nope").entries()


# -- with the real ingestor ------------------------------------------------------------------
@pytest.fixture
def world(stack: Any, ingestor: Any) -> Any:
    jobs = JobManager(stack.sessions, ingestor)
    syncer = Syncer(stack.sessions, ingestor, jobs, 3600)
    ingestor.create_collection("team")
    return stack.sessions, ingestor, jobs, syncer


@pytest.mark.integration
def test_add_change_delete_cycle(world: Any, tmp_path: Path) -> None:
    sessions, ingestor, jobs, syncer = world
    share = tmp_path / "share"
    _write(share / "a.md", "The printer is on floor 2.")
    _write(share / "sub" / "b.md", "Parking is free on Fridays.")
    _write(share / "c.md", "Badges are renewed every year.")
    (share / "photo.xyz").write_bytes(b"\x00not a document")
    _write(share / ".draft.md", "hidden")
    hand = _write(tmp_path / "hand" / "manual.md", "Uploaded by hand.")
    ingestor.ingest_file(hand, "team")
    source_id = _source(sessions, "team", share)

    first = syncer.sync(source_id)
    assert first.error is None and first.job_id is not None
    assert sorted(first.new) == ["a.md", "c.md", "sub/b.md"] and first.skipped == 1
    job = jobs.run(first.job_id)
    assert job["source"] == "sync" and job["status"] == "done"
    assert _files(job) == {"a.md": "added", "c.md": "added", "sub/b.md": "added"}

    # Nothing changed: no job, nothing hashed into a new version.
    quiet = syncer.sync(source_id)
    assert quiet.job_id is None and quiet.unchanged == 3 and not quiet.new

    # Touched but the same content: hashed, still unchanged.
    os.utime(share / "a.md", ns=(1, 1))
    assert syncer.sync(source_id).job_id is None

    _write(share / "a.md", "The printer moved to floor 3.")
    (share / "c.md").unlink()
    _write(share / "sub" / "d.md", "Lunch is served at noon.")
    second = syncer.sync(source_id)
    assert (second.new, second.changed, second.deleted) == (["sub/d.md"], ["a.md"], ["c.md"])
    job = jobs.run(second.job_id)
    assert _files(job) == {"a.md": "replaced", "sub/d.md": "added", "c.md": "deleted"}
    assert job["status"] == "done"
    docs = _docs(sessions)
    assert docs == {"a.md": ("ready", 2), "sub/b.md": ("ready", 1), "sub/d.md": ("ready", 1),
                    "manual.md": ("ready", 1)}  # the hand-uploaded document stays
    assert ingestor.check() == []
    # The deleted file's origin row goes at the next sync, once its document is gone.
    assert syncer.sync(source_id).job_id is None
    with sessions() as db:
        delivered = set(db.scalars(select(SyncSourceFile.name)
                                   .where(SyncSourceFile.source_id == source_id)))
    assert delivered == {"a.md", "sub/b.md", "sub/d.md"}

    # An empty folder (an unmounted share) deletes nothing and says why.
    for path in (share / "a.md", share / "sub" / "b.md", share / "sub" / "d.md",
                 share / "photo.xyz", share / ".draft.md"):
        path.unlink()
    empty = syncer.sync(source_id)
    assert empty.job_id is None and "empty" in (empty.error or "")
    assert len(_docs(sessions)) == 4
    with sessions() as db:
        assert "empty" in (db.get(SyncSource, source_id).last_error or "")


@pytest.mark.integration
def test_restrictions_per_subfolder(world: Any, tmp_path: Path) -> None:
    sessions, _ingestor, jobs, syncer = world
    share = tmp_path / "share"
    _write(share / "public.md", "Everyone reads this.")
    _write(share / "hr" / "leave.md", "Leave policy for staff.")
    _write(share / "hr" / "pay" / "scale.md", "Salary scale.")
    source_id = _source(sessions, "team", share,
                        restrictions=json.dumps({"hr": ["hr"], "hr/pay": ["payroll"]}))
    jobs.run(syncer.sync(source_id).job_id)

    def restrictions() -> dict[str, set[str]]:
        with sessions() as db:
            return {d.name: document_restrictions(db, d.id)
                    for d in db.scalars(select(Document))}

    assert restrictions() == {"public.md": set(), "hr/leave.md": {"hr"},
                              "hr/pay/scale.md": {"payroll"}}
    # The admin changes the rules: unchanged documents follow at the next sync, no job.
    with sessions() as db:
        db.get(SyncSource, source_id).restrictions = json.dumps({"hr": ["hr", "managers"]})
        db.commit()
    report = syncer.sync(source_id)
    assert report.job_id is None and sorted(report.restricted) == ["hr/leave.md",
                                                                   "hr/pay/scale.md"]
    assert restrictions() == {"public.md": set(), "hr/leave.md": {"hr", "managers"},
                              "hr/pay/scale.md": {"hr", "managers"}}
    # A changed file keeps its subfolder's restriction through the replacement.
    _write(share / "hr" / "leave.md", "Leave policy, new edition.")
    job = jobs.run(syncer.sync(source_id).job_id)
    assert _files(job) == {"hr/leave.md": "replaced"}
    assert restrictions()["hr/leave.md"] == {"hr", "managers"}


@pytest.mark.integration
def test_scheduler_tick_claims_each_due_source_once(world: Any, tmp_path: Path) -> None:
    sessions, ingestor, jobs, syncer = world
    share = tmp_path / "share"
    _write(share / "a.md", "Alpha.")
    source_id = _source(sessions, "team", share)
    other = Syncer(sessions, ingestor, jobs, 3600)  # a second web process
    reports = syncer.tick(force=True)
    assert [r.source_id for r in reports] == [source_id] and reports[0].job_id
    assert other.tick(force=True) == []  # not due any more
    assert syncer.claim(source_id) is False
    # A sync is not started again while its job is still queued.
    with sessions() as db:
        db.get(SyncSource, source_id).last_run_at = now() - timedelta(hours=2)
        db.commit()
    busy = other.tick(force=True)
    assert busy[0].busy and busy[0].job_id == reports[0].job_id
    jobs.run(reports[0].job_id)
    assert Syncer(sessions, ingestor, jobs, 0).tick(force=True) == []  # setting 0: off


# -- the CLI and SIGKILL ---------------------------------------------------------------------
def _env(data: Path) -> dict[str, str]:
    return {**os.environ, "ENCLAVE_DATA_DIR": str(data), "ENCLAVE_PROFILE": "test"}


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "sync", *args], cwd=REPO,
                          env=_env(data), capture_output=True, text=True, timeout=600)


def _prepare(tmp_path: Path, n_files: int) -> tuple[Path, Path]:
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    share, data = tmp_path / "share", tmp_path / "data"
    rng = random.Random(3)
    words = "policy budget travel laptop security leave parking invoice audit vendor".split()
    for i in range(n_files):
        body = " ".join(rng.choice(words) for _ in range(120))
        _write(share / f"dir{i % 3}" / f"doc-{i:03d}.md", f"Document {i}: {body}.")
    stack = build_retrieval(make_settings(data))
    try:
        build_ingestor(stack).create_collection("team")
        _source(stack.sessions, "team", share)
        _source(stack.sessions, "other", share, enabled=False)
    finally:
        stack.close()
    return share, data


@pytest.mark.integration
def test_cli_sync_json_and_exit_codes(tmp_path: Path) -> None:
    share, data = _prepare(tmp_path, 3)
    (share / "bad.pdf").write_bytes(b"nope")
    out = _cli(data, "--json")
    assert out.returncode == 1, out.stderr  # bad.pdf failed
    [report] = json.loads(out.stdout)["sources"]  # the disabled source is left out
    assert report["collection"] == "team" and len(report["new"]) == 4
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert statuses["bad.pdf"] == "failed" and statuses["dir0/doc-000.md"] == "added"
    (share / "dir1" / "doc-001.md").unlink()
    again = _cli(data, "--collection", "team")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 new, 0 changed, 1 deleted" in again.stdout
    assert "deleted    dir1/doc-001.md" in again.stdout
    assert "no sources to sync" in _cli(data, "--collection", "nobody").stdout


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_during_a_sync_then_the_next_sync_completes(tmp_path: Path) -> None:
    from bench.crash_consistency import check_files_load, recover_and_check

    share, data = _prepare(tmp_path, 24)
    rng = random.Random(7)
    killed = 0
    for round_ in range(3):
        if round_:  # change a third of the files and delete one
            for path in sorted(share.rglob("*.md"))[round_::3]:
                _write(path, f"Round {round_} edition of {path.name}.")
            sorted(share.rglob("*.md"))[0].unlink()
        proc = subprocess.Popen([sys.executable, "-m", "ingest", "sync"], cwd=REPO,
                                env=_env(data), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "source 1 ...: N new, ..." once the job is queued
        assert line.startswith("source "), line
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        check_files_load(data)
        recover_and_check(data)
    assert killed >= 1

    finish = _cli(data, "--json")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    # The catalog mirrors the folder, and one more sync finds nothing to do.
    final = _cli(data, "--json")
    [report] = json.loads(final.stdout)["sources"]
    assert report["job_id"] is None and not report["busy"], report
    assert recover_and_check(data) == []
    from retrieval.stack import build_retrieval

    stack = build_retrieval(make_settings(data))
    try:
        docs = _docs(stack.sessions)
    finally:
        stack.close()
    on_disk = {p.relative_to(share).as_posix() for p in share.rglob("*.md")}
    assert set(docs) == on_disk and all(s == "ready" for s, _ in docs.values())
