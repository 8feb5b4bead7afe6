"""Migration 0012: ``answer_records.draft`` (what became of the model's draft), in place."""

from __future__ import annotations

from sqlalchemy import Engine, text

from db import migrate
from tests.db.steps import columns, downgrade

RECORD = ("INSERT INTO answer_records (id, at, user_id, username, conversation_id, collection, "
          "question, answer, abstained, mode, model_name, retrieved, cited) VALUES "
          "({id}, '2026-12-06 10:00:00', 1, 'ann', 1, 'handbook', 'q', 'a', false, 'auto', "
          "'m.gguf', '[]', '[]')")


def _check_answer_draft_up_and_down(engine: Engine) -> None:
    """Existing records get NULL; a new one keeps its outcome; down again keeps every record."""
    migrate.upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, "
                          "source, role, disabled, session_version, created_at) VALUES "
                          "(1, 'ann', 'Ann', 'x', 'local', 'admin', false, 0, "
                          "'2026-12-06 10:00:00')"))
        conn.execute(text("INSERT INTO conversations (id, user_id, collection, title, "
                          "created_at) VALUES (1, 1, 'handbook', 't', "
                          "'2026-12-06 10:00:00')"))
        conn.execute(text(RECORD.format(id=1)))
    assert "draft" not in columns(engine, "answer_records")
    migrate.upgrade(engine, "0012")
    assert migrate.schema_diff(engine) == [] or migrate.head() != "0012"
    with engine.begin() as conn:
        conn.execute(text(RECORD.format(id=2).replace("answer_records (id,",
                                                       "answer_records (draft, id,")
                          .replace("VALUES (2,", "VALUES ('replaced', 2,")))
        assert conn.execute(text("SELECT id, draft FROM answer_records ORDER BY id")).all() == [
            (1, None), (2, "replaced")]
    downgrade(engine, "0011")
    assert "draft" not in columns(engine, "answer_records")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM answer_records ORDER BY id")).all() == [
            (1,), (2,)]
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_answer_draft_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_answer_draft_up_and_down(empty_engine)
