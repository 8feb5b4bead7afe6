"""Synced sources: folders (later WebDAV, S3) whose files a collection mirrors.

A :class:`SyncSource` names the place, the collection it feeds, how often it is synced and
which subfolders are restricted to which groups. :class:`SyncSourceFile` is what a sync last
saw of each file it delivered (size, modification time, content hash): the origin record
that tells a sync which documents are its own to replace or delete. The sync itself lives
in :mod:`ingest.sync`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, now

SOURCE_KINDS = ("folder",)


class SyncSource(Base):
    """A folder attached to a collection.

    ``restrictions`` is a JSON object ``{subfolder: [group, ...]}``: files under a subfolder
    (the longest matching one) are readable only by its groups. ``interval_s`` NULL: the
    ``ingest.sync_interval_s`` setting; 0: synced only on demand.
    """

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("collection", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="folder")
    path: Mapped[str] = mapped_column(Text)
    interval_s: Mapped[int | None] = mapped_column(Integer, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    restrictions: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_job_id: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class SyncSourceFile(Base):
    """A file a source delivered: what the last sync saw of it (the document's origin)."""

    __tablename__ = "source_files"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"),
                                           primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
