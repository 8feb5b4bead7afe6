"""Engine behaviour the rest of the code relies on: SQLite pragmas and one-snapshot reads."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from db.engine import make_engine, read_snapshot, session_factory
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
