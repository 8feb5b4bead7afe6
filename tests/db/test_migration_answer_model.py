"""Migration 0009: the answer records' model preset, backend and licence, added in place."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from db import migrate
from tests.db.steps import columns, downgrade

ADDED = {"model_preset", "model_backend", "model_licence"}


def _previous() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    down = script.get_revision("0009").down_revision
    assert isinstance(down, str)
    return down




def _check_up_and_down(engine: Engine) -> None:
    """Existing records get NULL; they stay append-only; down again keeps every record."""
    previous = _previous()
    migrate.upgrade(engine, previous)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, "
                          "source, role, disabled, session_version, created_at) VALUES "
                          "(1, 'pat', 'Pat', 'x', 'local', 'admin', false, 0, "
                          "'2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO conversations (id, user_id, collection, title, "
                          "created_at) VALUES (1, 1, 'handbook', 'meals', '2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO answer_records (id, at, user_id, username, "
                          "conversation_id, collection, question, answer, abstained, mode, "
                          "model_name, model_sha256, retrieved, cited) VALUES (1, "
                          "'2026-11-01 10:00:00', 1, 'pat', 1, 'handbook', 'q', 'a', false, "
                          "'generative', 'smollm.gguf', NULL, '[]', '[]')"))
    assert not ADDED & columns(engine, "answer_records")
    migrate.upgrade(engine, "0009")
    assert columns(engine, "answer_records") >= ADDED
    with engine.begin() as conn:
        assert conn.execute(text("SELECT model_name, model_preset, model_backend, model_licence "
                                 "FROM answer_records")).all() == [("smollm.gguf", None, None,
                                                                    None)]
    with engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE answer_records SET model_preset = 'x'"))
    downgrade(engine, previous)
    assert not ADDED & columns(engine, "answer_records")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, model_name FROM answer_records")).all() == [
            (1, "smollm.gguf")]
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_answer_model_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_up_and_down(empty_engine)
