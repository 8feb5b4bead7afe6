"""Jobs handed to a queue (``jobs.runner: celery``): what the web side sends and what a worker's
``run_file`` does, with the real ingestor and models. The queue itself is a fake here
(``FakeQueue`` records what would be sent); tests/test_cluster.py runs the real Celery workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from db.models import Chunk, Collection, IngestJobFile
from ingest.jobs import JobManager, NewFile

pytestmark = pytest.mark.integration


class FakeQueue:
    """Records ``(job_id, file_ids)`` instead of sending them; ``down`` refuses like a dead broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[int]]] = []
        self.down = False

    def __call__(self, job_id: int, file_ids: list[int]) -> None:
        if self.down:
            raise RuntimeError("the job queue at redis://127.0.0.1:6379/0 did not accept the job")
        self.sent.append((job_id, list(file_ids)))


def _files(tmp_path: Path, n: int) -> list[NewFile]:
    out = []
    for i in range(n):
        path = tmp_path / f"note-{i}.txt"
        path.write_text(f"Note {i}. The harbour crane number {i} is inspected every "
                        f"{i + 2} weeks by the quay supervisor.\n", encoding="utf-8")
        out.append(NewFile(path, path.name))
    return out


@pytest.fixture
def queued(stack, ingestor):  # type: ignore[no-untyped-def]
    fake = FakeQueue()
    return JobManager(stack.sessions, ingestor, dispatch=fake), fake, stack


def test_create_sends_every_file_and_starts_no_thread(queued, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, fake, _ = queued
    jobs.start()
    assert jobs._threads == []  # noqa: SLF001 - the queue's workers own the jobs
    job_id = jobs.create("docs", _files(tmp_path, 3))
    job = jobs.get(job_id)
    assert job["status"] == "queued"
    assert fake.sent == [(job_id, [f["id"] for f in job["files"]])]


def test_run_file_per_file_closes_the_job_after_the_last(queued, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, fake, stack = queued
    job_id = jobs.create("docs", _files(tmp_path, 2))
    first, second = fake.sent[0][1]
    assert jobs.run_file(job_id, first) == "added"
    assert jobs.get(job_id)["status"] == "running"
    assert jobs.run_file(job_id, second) == "added"
    job = jobs.get(job_id)
    assert job["status"] == "done" and job["finished"] == 2
    # delivered again (a broker redelivery): nothing happens twice
    assert jobs.run_file(job_id, first) == "added"
    with stack.sessions() as s:
        assert len(s.scalars(select(Chunk.id)).all()) == 2
    assert stack.retriever.search("how often is crane 1 inspected", "docs")[0].document == \
        "note-1.txt"


def test_a_cancelled_job_skips_its_remaining_files(queued, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, fake, _ = queued
    job_id = jobs.create("docs", _files(tmp_path, 2))
    first, second = fake.sent[0][1]
    assert jobs.run_file(job_id, first) == "added"
    assert jobs.cancel(job_id)
    assert jobs.run_file(job_id, second) == "cancelled"
    job = jobs.get(job_id)
    assert job["status"] == "cancelled"
    assert [f["status"] for f in job["files"]] == ["added", "cancelled"]


def test_a_refused_job_fails_with_the_reason_and_can_be_retried(queued, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, fake, _ = queued
    fake.down = True
    job_id = jobs.create("docs", _files(tmp_path, 2))
    job = jobs.get(job_id)
    assert job["status"] == "failed"
    assert all("did not accept" in f["error"] for f in job["files"])
    fake.down = False
    retry = jobs.retry_failed(job_id)
    assert retry is not None and fake.sent[-1][0] == retry
    for file_id in fake.sent[-1][1]:
        jobs.run_file(retry, file_id)
    assert jobs.get(retry)["status"] == "done"


def test_a_file_interrupted_after_its_commit_is_repaired_when_it_comes_back(  # type: ignore[no-untyped-def]
        queued, tmp_path: Path) -> None:
    """The worker died between the catalog commit and the index save: chunks, no vectors."""
    jobs, fake, stack = queued
    job_id = jobs.create("docs", _files(tmp_path, 1))
    (file_id,) = fake.sent[0][1]
    assert jobs.run_file(job_id, file_id) == "added"
    with stack.sessions() as s:
        ids = np.array(s.scalars(select(Chunk.id)).all(), dtype=np.int64)
        coll_id = s.scalar(select(Collection.id).where(Collection.name == "docs"))
        s.execute(update(IngestJobFile).where(IngestJobFile.id == file_id)
                  .values(status="indexing"))
        s.commit()
    stack.index.remove(coll_id, ids)
    stack.index.save(coll_id)
    assert stack.index.count(coll_id) == 0
    assert jobs.run_file(job_id, file_id) == "unchanged"
    assert stack.index.count(coll_id) == len(ids)
    assert jobs.get(job_id)["status"] == "done"


def test_requeue_sends_only_unfinished_files(queued, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jobs, fake, _ = queued
    job_id = jobs.create("docs", _files(tmp_path, 3))
    ids = fake.sent[0][1]
    jobs.run_file(job_id, ids[0])
    fake.sent.clear()
    assert jobs.requeue() == 2
    assert fake.sent == [(job_id, ids[1:])]
