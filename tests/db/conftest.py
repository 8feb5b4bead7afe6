"""Fixtures of the catalog tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from db.engine import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database: a SQLite file, then (second run) a throw-away database
    on the local PostgreSQL (``pg_url``), disposed afterwards."""
    url = (f"sqlite:///{tmp_path / 'migrations.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
