"""Model presets: each answer record says which preset, backend and licence answered.

``answer_records.model_preset`` (generation.preset; NULL for a GGUF given by path),
``model_backend`` (llamacpp / openai) and ``model_licence`` (the preset's licence, with the
GGUF file's own ``general.license`` where it differs) join ``model_name`` and
``model_sha256``. Existing records stay NULL. The columns are added and dropped in place
(``ALTER TABLE``), like 0008's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (("model_preset", 100), ("model_backend", 32), ("model_licence", 200))


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("answer_records", sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("answer_records", name)
