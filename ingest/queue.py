"""Ingest jobs on Celery workers (``jobs.runner: celery``): the app, its settings, the sender.

One task per file, ``enclave.ingest_file(job_id, file_id)``. Any worker process on any host
parses, chunks and embeds (the expensive, parallel part); the result is committed to the
catalog and the vector index and published as a new index snapshot under the data
directory's writer lock, held from the catalog commit to the snapshot save (the short,
serial part). So there is one writer at a time, whichever worker holds the lock, and no
dedicated writer process that could die with the queue's results in it. Why not a
writer queue: the result of a file is its chunks and vectors (megabytes for a long PDF);
passing them through the broker to one writer doubles the traffic and adds a process whose
death stops every job, while the lock gives the same serial order with any worker able to
write (docs/deployment.md#design).

Tasks are acknowledged late (after the file's outcome is committed) and rejected back to the
queue when their worker process dies, so a worker killed mid-file loses nothing: the broker
hands the file to another worker (RabbitMQ at once, Redis after ``jobs.visibility_timeout_s``).
A file that arrives twice is harmless: a committed file has the same content hash and comes
back ``unchanged``; a file whose worker died between the catalog commit and the snapshot save
is repaired (its vectors re-embedded from the catalog) before it is reported.

Messages are JSON (two integers); no pickle.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from config.settings import Settings

log = logging.getLogger(__name__)

TASK_NAME = "enclave.ingest_file"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings.jobs`` (broker, queue, late acknowledgement, JSON only)."""
    jobs = settings.jobs
    app = Celery("enclave", broker=jobs.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=jobs.queue,
        task_acks_late=True,                 # acknowledged once the file's outcome is committed
        task_reject_on_worker_lost=True,     # a killed worker process puts its file back
        worker_prefetch_multiplier=jobs.prefetch,
        # Redis: look for unacknowledged messages past the timeout every 10 s (kombu's
        # default looks every 100 s), so a dead worker's file moves on about
        # visibility_timeout_s + 10 s after it was taken.
        broker_transport_options={"visibility_timeout": jobs.visibility_timeout_s,
                                  "unacked_restore_interval": 10,
                                  "unacked_restore_throttle": 1},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
    )
    return app


class QueueUnavailable(RuntimeError):
    """The broker did not take the job's messages."""


class CeleryDispatcher:
    """Sends each file of a job to the Celery queue (the web processes' side)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app = make_celery(settings)

    def __call__(self, job_id: int, file_ids: list[int]) -> None:
        """Queue ``enclave.ingest_file(job_id, file_id)`` for every file; raise if refused."""
        try:
            with self._app.producer_or_acquire() as producer:
                for file_id in file_ids:
                    self._app.send_task(
                        TASK_NAME, args=[job_id, file_id], queue=self._settings.jobs.queue,
                        producer=producer, retry=True,
                        retry_policy={"max_retries": 3, "interval_start": 0.2,
                                      "interval_step": 0.5, "interval_max": 2},
                    )
        except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; say what failed
            raise QueueUnavailable(
                f"the job queue at {_safe_url(self._settings.jobs.broker_url)} did not accept "
                f"the job ({type(exc).__name__}: {exc}); is the broker running?"
            ) from exc

    def ping(self) -> dict[str, Any]:
        """Workers that answer within a second (for health pages and the deployment check)."""
        replies = self._app.control.inspect(timeout=1.0).ping() or {}
        return dict(replies)


def _safe_url(url: str) -> str:
    """The broker URL without its password."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
