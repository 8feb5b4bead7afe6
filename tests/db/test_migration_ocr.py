"""Migration 0007: ``chunks.ocr_confidence``, added and dropped in place (keyword index intact)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from db import migrate
from tests.db.steps import columns, downgrade


def _check_ocr_confidence_up_and_down(engine: Engine) -> None:
    """Existing chunks get NULL; down again keeps every chunk and its keyword search."""
    migrate.upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO collections (id, name, created_at, access_version) "
                          "VALUES (1, 'c', '2026-11-01 10:00:00', 0)"))
        conn.execute(text("INSERT INTO documents (id, collection_id, name, file_type, "
                          "content_hash, size_bytes, version, status, created_at, updated_at) "
                          "VALUES (1, 1, 'scan.pdf', 'pdf', 'h', 1, 1, 'ready', "
                          "'2026-11-01 10:00:00', '2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO chunks (id, document_id, ordinal, text, kind, page, "
                          "heading_path, char_start, char_end, token_count) VALUES "
                          "(7, 1, 0, 'forklift helmets', 'text', 1, '', 0, 16, 3)"))
    assert "ocr_confidence" not in columns(engine, "chunks")
    migrate.upgrade(engine, "0007")
    assert migrate.schema_diff(engine) == [] or migrate.head() != "0007"
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, ocr_confidence FROM chunks")).all() == [(7, None)]
        conn.execute(text("INSERT INTO chunks (id, document_id, ordinal, text, kind, page, "
                          "heading_path, char_start, char_end, token_count, ocr_confidence) "
                          "VALUES (8, 1, 1, 'pallets dock', 'text', 2, '', 18, 30, 3, 91.5)"))
        assert conn.execute(text("SELECT ocr_confidence FROM chunks WHERE id = 8")
                            ).scalar() == 91.5
    downgrade(engine, "0006")
    assert "ocr_confidence" not in columns(engine, "chunks")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, text FROM chunks ORDER BY id")).all() == [
            (7, "forklift helmets"), (8, "pallets dock")]
        if engine.dialect.name == "sqlite":  # the FTS5 triggers survived the column's removal
            conn.execute(text("UPDATE chunks SET text = 'zebra crossing' WHERE id = 8"))
            assert conn.execute(text("SELECT rowid FROM chunks_fts WHERE chunks_fts "
                                     "MATCH 'zebra'")).all() == [(8,)]
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_ocr_confidence_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_ocr_confidence_up_and_down(empty_engine)
