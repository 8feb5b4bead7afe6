"""Ingest jobs: ``/api/v1/jobs`` (progress, cancel, retry of failed files)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


def _jobs():  # type: ignore[no-untyped-def]
    return current_app.extensions["enclave"].jobs


@bp.get("")
def list_jobs():  # type: ignore[no-untyped-def]
    """Recent jobs (``?collection=`` narrows), newest first."""
    return jsonify(jobs=_jobs().list(request.args.get("collection") or None))


@bp.get("/<int:job_id>")
def get_job(job_id: int):  # type: ignore[no-untyped-def]
    """One job with per-file status, stage, counts and failure reasons."""
    job = _jobs().get(job_id)
    if job is None:
        abort(404, f"no job {job_id}")
    return jsonify(job)


@bp.post("/<int:job_id>/cancel")
def cancel(job_id: int):  # type: ignore[no-untyped-def]
    """Stop a queued or running job; files already committed stay ingested."""
    if not _jobs().cancel(job_id):
        abort(404, f"no job {job_id}")
    return jsonify(_jobs().get(job_id))


@bp.post("/<int:job_id>/retry")
def retry(job_id: int):  # type: ignore[no-untyped-def]
    """Queue the failed and cancelled files of a job again, as a new job."""
    if _jobs().get(job_id) is None:
        abort(404, f"no job {job_id}")
    new_id = _jobs().retry_failed(job_id)
    if new_id is None:
        abort(409, "this job has no failed or cancelled files to retry")
    return jsonify(_jobs().get(new_id)), 202
