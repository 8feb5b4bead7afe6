"""Engine behaviour the rest of the code relies on: SQLite pragmas, one-snapshot reads,
PostgreSQL planner statistics after large changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db.engine import make_engine, read_snapshot, refresh_statistics, session_factory
from db.migrate import upgrade
from db.models import Collection


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_read_snapshot_does_not_see_a_later_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    count = select(func.count()).select_from(Collection)
    with sessions() as reader, sessions() as plain:
        read_snapshot(reader)
        assert reader.scalar(count) == 0
        assert plain.scalar(count) == 0
        with sessions() as writer:
            writer.add(Collection(name="late"))
            writer.commit()
        assert reader.scalar(count) == 0  # one snapshot for the whole session
        assert plain.scalar(count) == 1  # without it each SELECT sees the latest commit
    with sessions() as after:
        read_snapshot(after)
        assert after.scalar(count) == 1
    engine.dispose()


def test_refresh_statistics_is_for_postgres_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    with session_factory(engine)() as session:
        assert refresh_statistics(session, 10_000) == []
    engine.dispose()


@pytest.mark.integration
def test_refresh_statistics_follows_autovacuums_rule_at_once(pg_url: str) -> None:
    """More changed rows than 50 + 10% of what the planner last saw: ANALYZE now, not on
    autovacuum's next round (or never, where it is off)."""
    engine = make_engine(pg_url)
    upgrade(engine)
    reltuples = text("SELECT reltuples FROM pg_class WHERE relname = 'collections'")
    with session_factory(engine)() as session:
        session.add_all(Collection(name=f"c{i}") for i in range(60))
        session.commit()
        assert refresh_statistics(session, 40, ("collections",)) == []  # under 50 rows
        assert refresh_statistics(session, 60, ("collections",)) == ["collections"]
        assert session.scalar(reltuples) == 60  # the planner now knows the table's size
        assert refresh_statistics(session, 55, ("collections",)) == []  # 55 < 50 + 6
    engine.dispose()
