"""Ingest jobs: ``/api/v1/jobs`` (progress, cancel, retry of failed files).

Jobs belong to their collection: only its managers (and admins) see and control them;
everyone else gets 404, as for an unknown job.
"""

from __future__ import annotations

from flask import current_app

from web.auth.guards import actor
from web.contract import API_PREFIX, api_blueprint, reply
from web.schemas import ErrorOut, JobOut, JobPath, JobsOut, JobsQuery

bp = api_blueprint("jobs", __name__, API_PREFIX + "/jobs", "jobs",
                   "Ingest jobs: progress, cancel, retry (managers of the collection).")


def _jobs():  # type: ignore[no-untyped-def]
    return current_app.extensions["enclave"].jobs


@bp.get("", responses={200: JobsOut})
def list_jobs(query: JobsQuery):  # type: ignore[no-untyped-def]
    """Recent jobs of the collections you manage (``?collection=`` narrows), newest first."""
    return reply(JobsOut(jobs=_jobs().list(actor(), query.collection or None)))


@bp.get("/<int:job_id>", responses={200: JobOut})
def get_job(path: JobPath):  # type: ignore[no-untyped-def]
    """One job with per-file status, stage, counts and failure reasons."""
    return reply(JobOut(**_jobs().get(actor(), path.job_id)))


@bp.post("/<int:job_id>/cancel", responses={200: JobOut})
def cancel(path: JobPath):  # type: ignore[no-untyped-def]
    """Stop a queued or running job; files already committed stay ingested."""
    return reply(JobOut(**_jobs().cancel(actor(), path.job_id)))


@bp.post("/<int:job_id>/retry", responses={202: JobOut, 409: ErrorOut})
def retry(path: JobPath):  # type: ignore[no-untyped-def]
    """Queue the failed and cancelled files of a job again, as a new job."""
    return reply(JobOut(**_jobs().retry(actor(), path.job_id)), 202)
