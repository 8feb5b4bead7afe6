"""Answer feedback: the asker's thumbs up or down on an answer, with an optional comment.

One row per answer evidence record (``answer_feedback.record_id``), replaced when its owner
rates again. The evidence records themselves stay append-only: feedback is a table of its
own, never a column of ``answer_records``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("record_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down')", name="ck_answer_feedback_rating"),
        sa.ForeignKeyConstraint(["record_id"], ["answer_records.id"]),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_index("ix_answer_feedback_rating_updated_at", "answer_feedback",
                    ["rating", "updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_rating_updated_at", table_name="answer_feedback")
    op.drop_table("answer_feedback")
