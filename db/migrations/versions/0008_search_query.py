"""Follow-up rewrite: each answer record keeps the query its question was searched with.

``answer_records.search_query`` is the standalone query a follow-up question was rewritten
into from its conversation (generation/followup.py), NULL when the question was searched as
asked. Existing records stay NULL. The column is added and dropped in place
(``ALTER TABLE``), like 0007's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("answer_records", sa.Column("search_query", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("answer_records", "search_query")
