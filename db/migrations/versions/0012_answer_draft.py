"""Answer records keep what became of the model's draft, so a restart remembers it.

``answer_records.draft``: ``kept`` (the checked draft is the answer), ``replaced`` (it did not
pass the check; quotes answered), ``skipped`` (the model was not asked: its recent drafts over
the scope were nearly all replaced), NULL (no draft: extractive mode, no evidence, records
before this migration). ``generation.skip_model_below`` reads the latest kept/replaced
outcomes per scope and model from here when a process first answers over a scope, instead of
starting every web process from an empty record. Added and dropped in place (``ALTER TABLE``),
like 0008's column.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("answer_records", sa.Column("draft", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("answer_records", "draft")
