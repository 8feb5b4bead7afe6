"""Keyword vocabulary: per-term passage counts for the abstention model (SQLite FTS5).

``chunks_fts_vocab`` is an ``fts5vocab`` view over ``chunks_fts``: it tells whether a question
word occurs anywhere in the index. It holds no data of its own, so it is complete at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocab")
