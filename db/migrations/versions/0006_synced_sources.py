"""Synced sources: folders attached to collections, and what each sync delivered.

``sources`` holds the folder, its collection, interval, enabled flag, per-subfolder
restrictions and the last run; ``source_files`` what the last sync saw of each file it
delivered (the origin of a synced document: only those are replaced or deleted by a sync).
Ingest job files gain ``action`` (``ingest`` or ``delete``: a synced document whose file
disappeared is deleted by the job, reported as one of its files) and ``restrict_to`` (the
file's own groups, for per-subfolder restrictions; NULL: the job's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("restrictions", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_job_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection", "path"),
    )
    op.create_table(
        "source_files",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "name"),
    )
    with op.batch_alter_table("ingest_job_files") as batch:
        batch.add_column(sa.Column("action", sa.String(length=16), nullable=False,
                                   server_default="ingest"))
        batch.add_column(sa.Column("restrict_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_job_files") as batch:
        batch.drop_column("restrict_to")
        batch.drop_column("action")
    op.drop_table("source_files")
    op.drop_table("sources")
