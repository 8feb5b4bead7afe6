"""OCR confidence: each chunk read with OCR keeps Tesseract's mean word confidence.

``chunks.ocr_confidence`` is the mean confidence (0-100, weighted by word length) of the OCRed
text in the chunk, NULL for chunks from a text layer or any other parser. Existing chunks
stay NULL. The column is added and dropped in place (``ALTER TABLE``), not by a batch copy
of the table: on SQLite a copy would drop the FTS5 triggers on ``chunks``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chunks", sa.Column("ocr_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("chunks", "ocr_confidence")
