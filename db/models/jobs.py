"""Ingest jobs and their files (the worker that runs them lives in :mod:`ingest.jobs`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, now

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
FILE_ACTIVE = ("parsing", "chunking", "embedding", "indexing")


class IngestJob(Base):
    """A batch of files to ingest into one collection."""

    __tablename__ = "ingest_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16), default="upload")  # upload|cli|retry|sync|reingest
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Who queued it, and the groups its documents are restricted to (comma-separated; the
    # restriction is committed with each document, so it is never visible unrestricted).
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)
    restrict_to: Mapped[str] = mapped_column(Text, default="")

    files: Mapped[list[IngestJobFile]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="IngestJobFile.ordinal"
    )


class IngestJobFile(Base):
    """One file of a job.

    ``status`` is queued, a stage (parsing, chunking, embedding, indexing), or an outcome
    (added, replaced, unchanged, failed, cancelled, deleted).

    ``action`` is ``ingest``, ``reingest`` (an admin's re-ingest of a stored original: parsed
    and embedded again even when its content is unchanged), or ``delete`` for a synced
    document whose file disappeared (the worker deletes the document named ``name``).
    ``restrict_to``: this file's groups (comma-separated; a synced subfolder's restriction),
    NULL for the job's.
    """

    __tablename__ = "ingest_job_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("ingest_jobs.id", ondelete="CASCADE"),
                                        index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    storage_name: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    document_id: Mapped[int | None] = mapped_column(Integer, default=None)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(String(16), default="ingest", server_default="ingest")
    restrict_to: Mapped[str | None] = mapped_column(Text, default=None)

    job: Mapped[IngestJob] = relationship(back_populates="files")
