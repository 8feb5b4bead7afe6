"""The Celery worker's entry: ``celery -A ingest.celery_app worker --queues enclave.ingest``.

Settings are loaded once, from ``config/`` and ``ENCLAVE_*`` (use the same profile and data
directory as the web processes). Each worker process builds its own catalog engine, models
and ingestor on its first task, after the fork: nothing heavy (no model, no CUDA context, no
database connection) exists in the parent. The design — parallel parse and embed, one writer
at a time under the data directory's lock, late acknowledgement — is in :mod:`ingest.queue`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_process_shutdown

from config import configure_offline, load_settings
from ingest.jobs import JobManager
from ingest.queue import TASK_NAME, make_celery

log = logging.getLogger(__name__)

configure_offline()  # before any model library is imported
settings = load_settings()
app = make_celery(settings)

_state: dict[str, Any] = {}
_state_lock = threading.Lock()


def job_manager() -> JobManager:
    """The job manager of this worker process (built on first use, after the fork)."""
    with _state_lock:
        if "jobs" not in _state:
            from ingest.stack import build_ingestor
            from retrieval.stack import build_retrieval

            stack = build_retrieval(settings)  # migrates, or refuses an old schema
            ingestor = build_ingestor(stack)
            _state["stack"] = stack
            _state["jobs"] = JobManager(stack.sessions, ingestor)
        return _state["jobs"]  # type: ignore[no-any-return]


@app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_file(job_id: int, file_id: int) -> str:
    """Parse, chunk, embed and commit one file of a job; returns its final status."""
    status = job_manager().run_file(int(job_id), int(file_id))
    log.info("job %s file %s: %s", job_id, file_id, status)
    return status


@worker_process_shutdown.connect
def _close(**_kwargs: Any) -> None:
    stack = _state.pop("stack", None)
    if stack is not None:
        stack.close()
