"""Ingest jobs: ``/api/v1/jobs`` (progress, cancel, retry of failed files).

Jobs belong to their collection: only its managers (and admins) see and control them;
everyone else gets 404, as for an unknown job.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g

from retrieval.catalog import get_collection
from web.auth import audit
from web.auth.guards import account, can_manage
from web.auth.session import client_ip
from web.contract import API_PREFIX, api_blueprint, reply
from web.schemas import ErrorOut, JobOut, JobPath, JobsOut, JobsQuery

bp = api_blueprint("jobs", __name__, API_PREFIX + "/jobs", "jobs",
                   "Ingest jobs: progress, cancel, retry (managers of the collection).")


def _services() -> Any:
    return current_app.extensions["enclave"]


def _manages(collection: str) -> bool:
    cache: dict[str, bool] = g.setdefault("managed_collections", {})  # one answer per request
    if collection not in cache:
        with _services().stack.sessions() as session:
            coll = get_collection(session, collection)
            cache[collection] = coll is not None and can_manage(session, coll.id, account())
    return cache[collection]


def visible_job(job: dict[str, Any]) -> bool:
    """Whether the caller may see a job.

    Admins see every job; managers those of their collections, except jobs restricted to
    groups they are not in (the file names would tell what they may not read).
    """
    user = account()
    if user.is_admin:
        return True
    restricted = set(job.get("restrict_to") or ())
    return _manages(job["collection"]) and (not restricted
                                            or bool(restricted & user.principal.groups))


def _job(job_id: int) -> dict[str, Any]:
    """The job if the caller may see it; 404 otherwise."""
    job = _services().jobs.get(job_id)
    if job is None or not visible_job(job):
        abort(404, f"no job {job_id}")
    return job


def _audit(action: str, job_id: int, **detail: Any) -> None:
    with _services().stack.sessions() as session:
        audit.record(session, account().username, action, f"job {job_id}", detail=detail,
                     ip=client_ip())
        session.commit()


@bp.get("", responses={200: JobsOut})
def list_jobs(query: JobsQuery):  # type: ignore[no-untyped-def]
    """Recent jobs of the collections you manage (``?collection=`` narrows), newest first."""
    jobs = _services().jobs.list(query.collection or None)
    return reply(JobsOut(jobs=[j for j in jobs if visible_job(j)]))


@bp.get("/<int:job_id>", responses={200: JobOut})
def get_job(path: JobPath):  # type: ignore[no-untyped-def]
    """One job with per-file status, stage, counts and failure reasons."""
    return reply(JobOut(**_job(path.job_id)))


@bp.post("/<int:job_id>/cancel", responses={200: JobOut})
def cancel(path: JobPath):  # type: ignore[no-untyped-def]
    """Stop a queued or running job; files already committed stay ingested."""
    job_id = path.job_id
    _job(job_id)
    if not _services().jobs.cancel(job_id):
        abort(404, f"no job {job_id}")
    _audit("job.cancel", job_id)
    return reply(JobOut(**_services().jobs.get(job_id)))


@bp.post("/<int:job_id>/retry", responses={202: JobOut, 409: ErrorOut})
def retry(path: JobPath):  # type: ignore[no-untyped-def]
    """Queue the failed and cancelled files of a job again, as a new job."""
    job_id = path.job_id
    _job(job_id)
    new_id = _services().jobs.retry_failed(job_id)
    if new_id is None:
        abort(409, "this job has no failed or cancelled files to retry")
    _audit("job.retry", job_id, new_job=new_id)
    return reply(JobOut(**_services().jobs.get(new_id)), 202)
