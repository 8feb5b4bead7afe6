"""Migrations: a database of the last release upgrades without losing a row; models == schema.

The release fixture is the SQLite schema that main at a16a359 (the last release without
migrations) created at start-up; the test fills it with one row of every kind, upgrades it
with the same code path the server runs, and compares every row before and after.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from db import migrate
from db.engine import make_engine, session_factory
from db.models import APPEND_ONLY, Base
from retrieval.backends.sqlite_fts import SqliteKeywordIndex
from retrieval.stack import build_retrieval
from tests.conftest import REPO, make_settings
from tests.db.steps import downgrade

RELEASE_SCHEMA = Path(__file__).parent / "fixtures" / "release_a16a359.sql"

# One row of every table, as the release's code would have written them.
RELEASE_ROWS = [
    "INSERT INTO collections VALUES (1, 'handbook', '2026-11-01 10:00:00')",
    "INSERT INTO documents VALUES (1, 1, 'travel.md', 'md', '" + "a" * 64 + "', 120, 2, 'ready', "
    "NULL, 'f1.md', NULL, '2026-11-01 10:00:00', '2026-11-02 10:00:00')",
    "INSERT INTO documents VALUES (2, 1, 'broken.pdf', 'pdf', '" + "b" * 64 + "', 9, 1, 'failed', "
    "'not a PDF', NULL, NULL, '2026-11-01 10:00:00', '2026-11-01 10:00:00')",
    "INSERT INTO chunks VALUES (7, 1, 0, 'The daily meal allowance is EUR 45 for domestic trips.', "
    "'text', NULL, 'Travel > Meals', 0, 55, 14)",
    "INSERT INTO chunks VALUES (8, 1, 1, 'Hotels are booked through the travel desk.', 'text', "
    "NULL, 'Travel > Hotels', 57, 100, 10)",
    "INSERT INTO acl_groups VALUES (1, 'staff')",
    "INSERT INTO acl_groups VALUES (2, 'hr')",
    "INSERT INTO acl_collection_grants VALUES (1, 1, 1, 'read')",
    "INSERT INTO acl_document_restrictions VALUES (1, 2)",
    "INSERT INTO users VALUES (1, 'pat', 'Pat', 'argon2-hash', 'local', NULL, 'admin', 0, 3, "
    "'2026-11-01 10:00:00', NULL)",
    "INSERT INTO acl_group_members VALUES (1, 2, 'local')",
    "INSERT INTO api_tokens VALUES (1, 1, 'cli', '" + "c" * 64 + "', 'enc_abcd', "
    "'2026-11-01 10:00:00', '2027-01-30 10:00:00', NULL, NULL)",
    "INSERT INTO login_sessions VALUES ('" + "d" * 64 + "', 1, 3, '2026-11-01 10:00:00', "
    "'2026-11-01 22:00:00', NULL, '127.0.0.1', 'test')",
    "INSERT INTO audit_events VALUES (1, '2026-11-01 10:00:00', 'pat', 'login', 'pat', '{}', "
    "'127.0.0.1', 'ok')",
    "INSERT INTO conversations VALUES (1, 1, 'handbook', 'meals', '2026-11-01 10:00:00')",
    "INSERT INTO answer_records VALUES (1, '2026-11-01 10:00:00', 1, 'pat', 1, 'handbook', "
    "'How much for meals?', 'EUR 45 [1]', 0, 'generative', 'smollm', NULL, '[]', '[]')",
    "INSERT INTO ingest_jobs VALUES (1, 'handbook', 'upload', 'done', 0, '2026-11-01 10:00:00', "
    "NULL, NULL, NULL, 'pat', 'hr')",
    "INSERT INTO ingest_job_files VALUES (1, 1, 0, 'travel.md', '/tmp/x', 'f1.md', 'added', NULL, "
    "1, 2, 2)",
]


def _target(statement: str) -> str | None:
    """The table a CREATE TABLE / CREATE INDEX statement makes or indexes (else None)."""
    words = statement.replace("(", " ( ").split()
    if words[:2] == ["CREATE", "TABLE"]:
        return words[2]
    if words[0] == "CREATE" and "INDEX" in words[:3]:
        return words[words.index("ON") + 1]
    return None  # triggers, the FTS5 table


def _release_database(path: Path, tables: set[str] | None = None) -> None:
    """A database exactly as the release made it (only ``tables`` when given), filled."""
    lines = [ln for ln in RELEASE_SCHEMA.read_text().splitlines() if not ln.startswith("--")]
    statements = [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys=ON")
    for statement in statements:
        if tables is None or _target(statement) in tables:
            con.execute(statement)
    for row in RELEASE_ROWS:
        if tables is None or row.split()[2] in tables:
            con.execute(row)
    con.commit()
    con.close()


# Columns later migrations add to release tables, and tables they add (checked on their own).
ADDED_COLUMNS = {"collections": {"access_version"}, "chunks": {"ocr_confidence"},
                 "conversations": {"deleted_at"}, "documents": {"parse_report"},
                 "ingest_job_files": {"action", "restrict_to"},
                 "answer_records": {"search_query", "model_preset", "model_backend",
                                    "model_licence", "draft"}}
ADDED_TABLES = {"answer_feedback", "sources", "source_files"}


def _dump(path: Path, tables: list[str]) -> dict[str, list[tuple[object, ...]]]:
    """Every row of ``tables``, in the release's columns."""
    con = sqlite3.connect(path)
    try:
        out = {}
        for t in tables:
            columns = [row[1] for row in con.execute(f"PRAGMA table_info({t})")
                       if row[1] not in ADDED_COLUMNS.get(t, set())]
            out[t] = con.execute(f"SELECT {', '.join(columns)} FROM {t} ORDER BY 1").fetchall()
        return out
    finally:
        con.close()


MODEL_TABLES = sorted(Base.metadata.tables)
RELEASE_TABLES = sorted(set(MODEL_TABLES) - ADDED_TABLES)


def test_release_database_upgrades_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "enclave.db"
    _release_database(path)
    before = _dump(path, RELEASE_TABLES)
    assert all(before[t] for t in RELEASE_TABLES), "the fixture fills every table"

    engine = make_engine(f"sqlite:///{path}")
    try:
        assert migrate.current(engine) is None
        assert migrate.upgrade(engine) is None  # it was at no migration
        assert migrate.current(engine) == migrate.head()
        assert _dump(path, RELEASE_TABLES) == before
        with engine.connect() as conn:  # added columns start at their defaults, tables empty
            assert conn.execute(text("SELECT access_version FROM collections")).all() == [(0,)]
            assert conn.execute(text("SELECT action, restrict_to FROM ingest_job_files")
                                ).all() == [("ingest", None)]
            assert conn.execute(text("SELECT parse_report FROM documents")).all() == [
                (None,), (None,)]  # no report for versions ingested before 0011
            assert {d for (d,) in conn.execute(text("SELECT draft FROM answer_records"))} == {
                None}  # no draft outcome recorded before 0012
            for table in ADDED_TABLES:
                assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0
        assert migrate.schema_diff(engine) == []
        # The keyword index still follows the catalog, and the new vocabulary reads it.
        keyword = SqliteKeywordIndex()
        with session_factory(engine)() as db:
            assert keyword.search(db, 1, "meal allowance", 5)[0][0] == 7
            counts, total = keyword.term_counts(db, ["meal", "hotel", "zebra"])
            assert counts == {"meal": 1, "hotel": 1} and total == 2
        # Still append-only after the upgrade.
        for table in APPEND_ONLY:
            with engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
                conn.execute(text(f"DELETE FROM {table}"))
        # Upgrading again is a no-op.
        assert migrate.upgrade(engine) == migrate.head()
        assert _dump(path, RELEASE_TABLES) == before
    finally:
        engine.dispose()


def test_catalog_made_by_the_ingest_cli_alone_gets_the_missing_tables(tmp_path: Path) -> None:
    # Older releases created the account and job tables only when the web app started: a
    # data directory filled by `python -m ingest` alone has the catalog and ACL tables only.
    path = tmp_path / "enclave.db"
    catalog_only = {"collections", "documents", "chunks", "acl_groups", "acl_collection_grants",
                    "acl_document_restrictions"}
    _release_database(path, catalog_only)
    con = sqlite3.connect(path)  # no keyword index either (a release before FTS5)
    assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchall()
    con.close()
    before = _dump(path, sorted(catalog_only))

    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        assert set(MODEL_TABLES) <= set(inspect(engine).get_table_names())
        assert _dump(path, sorted(catalog_only)) == before
        assert migrate.schema_diff(engine) == []
        with session_factory(engine)() as db:  # the new keyword index was filled
            assert SqliteKeywordIndex().search(db, 1, "hotels", 5)[0][0] == 8
    finally:
        engine.dispose()


def test_fresh_database_matches_the_models_and_downgrades_to_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        migrate.upgrade(engine)
        assert migrate.schema_diff(engine) == []
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        left = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert left == set()
    finally:
        engine.dispose()



def _check_answer_feedback_up_and_down(engine: Engine) -> None:
    """0005 adds ``answer_feedback`` next to the append-only records and removes it again,
    keeping every record; the rating is checked by the database; the records stay append-only."""
    migrate.upgrade(engine, "0004")
    assert "answer_feedback" not in inspect(engine).get_table_names()
    with engine.begin() as conn:  # portable SQL (PostgreSQL has real booleans)
        conn.execute(text("INSERT INTO users (id, username, display_name, source, role, "
                          "disabled, session_version, created_at) VALUES (1, 'pat', 'Pat', "
                          "'local', 'reader', false, 1, '2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO conversations VALUES "
                          "(1, 1, 'handbook', 'meals', '2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO answer_records VALUES (1, '2026-11-01 10:00:00', 1, "
                          "'pat', 1, 'handbook', 'How much for meals?', 'EUR 45 [1]', false, "
                          "'generative', 'smollm', NULL, '[]', '[]')"))
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert migrate.schema_diff(engine) == []
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO answer_feedback VALUES "
                          "(1, 1, 'down', 'wrong', '2026-11-02 10:00:00', '2026-11-02 10:00:00')"))
        conn.execute(text("UPDATE answer_feedback SET rating = 'up', comment = ''"))  # replaced
    with engine.begin() as conn, pytest.raises(DatabaseError):
        conn.execute(text("INSERT INTO answer_feedback VALUES "
                          "(1, 1, 'up', '', '2026-11-02 10:00:00', '2026-11-02 10:00:00')"))
    with engine.begin() as conn, pytest.raises(DatabaseError):  # rating up or down only
        conn.execute(text("UPDATE answer_feedback SET rating = 'meh'"))
    with engine.begin() as conn, pytest.raises(DatabaseError):  # an answer that exists
        conn.execute(text("INSERT INTO answer_feedback VALUES "
                          "(99, 1, 'up', '', '2026-11-02 10:00:00', '2026-11-02 10:00:00')"))
    with engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE answer_records SET answer = 'x'"))

    downgrade(engine, "0004")
    assert migrate.current(engine) == "0004"
    assert "answer_feedback" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, question FROM answer_records")).all() == [
            (1, "How much for meals?")]
    migrate.upgrade(engine)  # and up again, empty
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM answer_feedback")).scalar() == 0
    assert migrate.schema_diff(engine) == []


def test_answer_feedback_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_answer_feedback_up_and_down(empty_engine)


def _check_synced_sources_up_and_down(engine: Engine) -> None:
    """0006 adds ``sources`` and ``source_files`` and two columns of ``ingest_job_files``
    (existing job files become ``ingest`` actions with the job's restriction); down again
    keeps every job file."""
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ingest_jobs VALUES (1, 'handbook', 'upload', 'done', "
                          "false, '2026-11-01 10:00:00', NULL, NULL, NULL, 'pat', 'hr')"))
        conn.execute(text("INSERT INTO ingest_job_files VALUES (1, 1, 0, 'travel.md', '/tmp/x', "
                          "'f1.md', 'added', NULL, 1, 2, 2)"))
    migrate.upgrade(engine, "0006")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name, action, restrict_to FROM ingest_job_files")
                            ).all() == [("travel.md", "ingest", None)]
        conn.execute(text("INSERT INTO sources (id, collection, kind, path, enabled, "
                          "restrictions, created_at) VALUES (1, 'handbook', 'folder', '/srv/docs', "
                          "true, '{}', '2026-11-01 10:00:00')"))
        conn.execute(text("INSERT INTO source_files VALUES (1, 'a.md', 3000000000, "
                          "1700000000000000000, '" + "a" * 64 + "')"))
    with engine.begin() as conn, pytest.raises(DatabaseError):  # one source per folder
        conn.execute(text("INSERT INTO sources (id, collection, kind, path, enabled, "
                          "restrictions, created_at) VALUES (2, 'handbook', 'folder', '/srv/docs', "
                          "true, '{}', '2026-11-01 10:00:00')"))
    assert migrate.schema_diff(engine) == [] or migrate.head() != "0006"
    downgrade(engine, "0005")
    assert not {"sources", "source_files"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, name, status FROM ingest_job_files")).all() == [
            (1, "travel.md", "added")]
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_synced_sources_migration_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_synced_sources_up_and_down(empty_engine)


def test_start_up_refuses_an_old_database_when_auto_upgrade_is_off(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _release_database(data / "enclave.db")
    settings = make_settings(data, database_auto_upgrade=False)
    with pytest.raises(migrate.SchemaOutOfDate, match="python -m web upgrade"):
        build_retrieval(settings)


def test_upgrade_command_reports_and_migrates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _release_database(data / "enclave.db")
    env_args = [sys.executable, "-m", "web", "--profile", "test"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ENCLAVE_DATA_DIR": str(data)}
        return subprocess.run([*env_args, *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120)

    check = run("upgrade", "--check")
    assert check.returncode == 1 and "no migration" in check.stdout, check.stderr
    done = run("upgrade")
    assert done.returncode == 0 and f"to {migrate.head()}" in done.stdout, done.stderr
    again = run("upgrade", "--check")
    assert again.returncode == 0, again.stdout + again.stderr
