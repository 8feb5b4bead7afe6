"""Ingest jobs: progress, cancel and retry, for the managers of the job's collection."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ingest.jobs import JobManager
from retrieval.catalog import get_collection
from services import access, audit
from services.actor import Actor
from services.errors import Conflict, NotFound
from services.library import visible_job


class Jobs:
    """Jobs belong to their collection: its managers (and admins) see and control them.

    Everyone else gets NotFound, as for an unknown job.
    """

    def __init__(self, sessions: sessionmaker[Session], jobs: JobManager) -> None:
        self._sessions = sessions
        self._jobs = jobs

    def _visible(self, actor: Actor, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        manages: dict[str, bool] = {}  # asked once per collection
        with self._sessions() as db:
            for job in jobs:
                name = job["collection"]
                if name not in manages:
                    coll = get_collection(db, name)
                    manages[name] = coll is not None and access.can_manage(db, coll.id, actor)
        return [j for j in jobs if visible_job(actor, j, manages[j["collection"]])]

    def list(self, actor: Actor, collection: str | None = None) -> list[dict[str, Any]]:
        """Recent jobs of the collections the actor manages, newest first."""
        return self._visible(actor, self._jobs.list(collection))

    def get(self, actor: Actor, job_id: int) -> dict[str, Any]:
        """One job with per-file status, stage, counts and failure reasons."""
        job = self._jobs.get(job_id)
        if job is None or not self._visible(actor, [job]):
            raise NotFound(f"no job {job_id}")
        return job

    def cancel(self, actor: Actor, job_id: int) -> dict[str, Any]:
        """Stop a queued or running job; files already committed stay ingested."""
        self.get(actor, job_id)
        if not self._jobs.cancel(job_id):
            raise NotFound(f"no job {job_id}")
        self._audit(actor, "job.cancel", job_id)
        return self.get(actor, job_id)

    def retry(self, actor: Actor, job_id: int) -> dict[str, Any]:
        """Queue the failed and cancelled files of a job again, as a new job."""
        self.get(actor, job_id)
        new_id = self._jobs.retry_failed(job_id)
        if new_id is None:
            raise Conflict("this job has no failed or cancelled files to retry")
        self._audit(actor, "job.retry", job_id, new_job=new_id)
        return self.get(actor, new_id)

    def _audit(self, actor: Actor, action: str, job_id: int, **detail: Any) -> None:
        with self._sessions() as db:
            audit.record(db, actor.username, action, f"job {job_id}", detail=detail, ip=actor.ip)
            db.commit()
