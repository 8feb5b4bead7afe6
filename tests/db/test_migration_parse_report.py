"""Migration 0011: ``documents.parse_report`` (JSON), added and dropped in place."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine, text

from db import migrate
from tests.db.steps import columns, downgrade

DOCUMENTS = sa.table("documents", sa.column("id", sa.Integer),
                     sa.column("parse_report", sa.JSON(none_as_null=True)))
REPORT = {"hidden_chars": 12, "hidden_by_reason": {"hidden-run": 12}, "pages": 2,
          "ocr_pages": 1, "unread_pages": 0, "tables": 1}




def _check_parse_report_up_and_down(engine: Engine) -> None:
    """Existing documents get NULL; a report round-trips; down again keeps every document."""
    migrate.upgrade(engine, "0010")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO collections (id, name, created_at, access_version) "
                          "VALUES (1, 'c', '2026-11-01 10:00:00', 0)"))
        conn.execute(text("INSERT INTO documents (id, collection_id, name, file_type, "
                          "content_hash, size_bytes, version, status, created_at, updated_at) "
                          "VALUES (1, 1, 'old.html', 'html', 'h', 1, 1, 'ready', "
                          "'2026-11-01 10:00:00', '2026-11-01 10:00:00')"))
    assert "parse_report" not in columns(engine, "documents")
    migrate.upgrade(engine, "0011")
    assert migrate.schema_diff(engine) == [] or migrate.head() != "0011"
    with engine.begin() as conn:
        assert conn.execute(sa.select(DOCUMENTS.c.id, DOCUMENTS.c.parse_report)).all() == [
            (1, None)]
        conn.execute(text("INSERT INTO documents (id, collection_id, name, file_type, "
                          "content_hash, size_bytes, version, status, created_at, updated_at) "
                          "VALUES (2, 1, 'new.docx', 'docx', 'h2', 1, 1, 'ready', "
                          "'2026-12-06 10:00:00', '2026-12-06 10:00:00')"))
        conn.execute(DOCUMENTS.update().where(DOCUMENTS.c.id == 2).values(parse_report=REPORT))
        assert conn.execute(sa.select(DOCUMENTS.c.parse_report).where(DOCUMENTS.c.id == 2)
                            ).scalar() == REPORT
    downgrade(engine, "0010")
    assert "parse_report" not in columns(engine, "documents")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, name FROM documents ORDER BY id")).all() == [
            (1, "old.html"), (2, "new.docx")]
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_parse_report_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_parse_report_up_and_down(empty_engine)
