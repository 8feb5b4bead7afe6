"""Access version: a counter per collection that grows with every change to who reads what.

``collections.access_version`` is bumped by triggers, in the same transaction as the change,
whenever a document of the collection is added, changed (status, version, ...) or deleted, a
restriction of one of its documents is added or removed, a grant on it changes, or any group
is renamed or deleted. Retrieval caches the chunk ids a principal may read under
(collection, access version, the principal's groups) and reads the version on every request,
so a revocation takes effect on the very next request in every process, however the change
was made (ORM, bulk statement or plain SQL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BUMP = "UPDATE collections SET access_version = access_version + 1"
_OF_DOCUMENT = "WHERE id = (SELECT collection_id FROM documents WHERE id = {row}.document_id)"

# (trigger name, event, table, statement run once per changed row)
_TRIGGERS = [
    ("documents_access_ai", "INSERT", "documents", f"{_BUMP} WHERE id = NEW.collection_id"),
    ("documents_access_au", "UPDATE", "documents",
     f"{_BUMP} WHERE id IN (OLD.collection_id, NEW.collection_id)"),
    ("documents_access_ad", "DELETE", "documents", f"{_BUMP} WHERE id = OLD.collection_id"),
    ("restrictions_access_ai", "INSERT", "acl_document_restrictions",
     f"{_BUMP} {_OF_DOCUMENT.format(row='NEW')}"),
    ("restrictions_access_au", "UPDATE", "acl_document_restrictions",
     f"{_BUMP} WHERE id IN (SELECT collection_id FROM documents "
     "WHERE id IN (OLD.document_id, NEW.document_id))"),
    ("restrictions_access_ad", "DELETE", "acl_document_restrictions",
     f"{_BUMP} {_OF_DOCUMENT.format(row='OLD')}"),
    ("grants_access_ai", "INSERT", "acl_collection_grants",
     f"{_BUMP} WHERE id = NEW.collection_id"),
    ("grants_access_au", "UPDATE", "acl_collection_grants",
     f"{_BUMP} WHERE id IN (OLD.collection_id, NEW.collection_id)"),
    ("grants_access_ad", "DELETE", "acl_collection_grants",
     f"{_BUMP} WHERE id = OLD.collection_id"),
    ("groups_access_au", "UPDATE", "acl_groups", _BUMP),
    ("groups_access_ad", "DELETE", "acl_groups", _BUMP),
]


def upgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("access_version", sa.Integer(), nullable=False,
                                   server_default="0"))
    dialect = op.get_bind().dialect.name
    for name, event, table, statement in _TRIGGERS:
        if dialect == "sqlite":
            op.execute(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} "
                       f"BEGIN {statement}; END")
        elif dialect == "postgresql":
            op.execute(f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {statement}; RETURN NULL; END $$")
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {name}_fn()")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, _event, table, _statement in _TRIGGERS:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}_fn()")
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("access_version")
