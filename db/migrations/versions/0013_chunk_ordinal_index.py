"""Chunks are indexed by (document, ordinal), replacing the index on the document alone.

Passages are grown from a hit's neighbouring chunks, read by ordinal range within the hit's
document (``retrieval.passages``). With only ``ix_chunks_document_id`` each range read every
chunk of the document: on the long-PDF evaluation set (three documents, 5,376 chunks), old and
new index alternating on the same data, search median went from 46-50 to 29-31 ms and p95 from
64-68 to 33-45 ms (bench/README.md). The composite index still
serves every lookup by document id (its leading column), so the old one is dropped.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_chunks_document_ordinal", "chunks", ["document_id", "ordinal"])
    # if_exists: a database adopted by 0001 from a release before migrations may lack it.
    op.drop_index("ix_chunks_document_id", table_name="chunks", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.drop_index("ix_chunks_document_ordinal", table_name="chunks")
