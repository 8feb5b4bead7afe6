"""Conversations: their owner may delete them; the answers stay as evidence.

``conversations.deleted_at`` is when the owner deleted the conversation (NULL: not deleted).
Answer records are append-only and refer to their conversation, so the row stays: a deleted
conversation is left out of its owner's list and opens (or continues) as a 404. Added and
dropped in place (``ALTER TABLE``), like 0008's column.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("deleted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("conversations", "deleted_at")
