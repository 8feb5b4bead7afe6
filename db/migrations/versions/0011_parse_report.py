"""Parse reports: each document version keeps what its parser found and dropped.

``documents.parse_report`` is a small JSON object (``ingest.types.ParseReport``): characters a
reader cannot see that were dropped (in total and by reason), pages, pages read with OCR,
scanned pages left unread and tables. NULL for failed documents and for versions ingested
before this migration (a re-ingest fills it in). Added and dropped in place (``ALTER TABLE``),
like 0007's column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("parse_report", sa.JSON(none_as_null=True),
                                         nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "parse_report")
