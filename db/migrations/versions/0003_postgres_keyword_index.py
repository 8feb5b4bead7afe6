"""PostgreSQL keyword index: a generated tsvector column on chunks with a GIN index.

The column is computed by PostgreSQL from the chunk's text (weight A) and heading path
(weight B) with the ``english`` configuration, so it changes in the same statement as the
row; adding it computes it for the chunks already there. SQLite keeps its FTS5 index (0001).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE chunks ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english', coalesce(text, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(heading_path, '')), 'B')) STORED"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_chunks_search_vector ON chunks "
               "USING GIN (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_chunks_search_vector")
    op.execute("ALTER TABLE chunks DROP COLUMN IF EXISTS search_vector")
