"""The database's schema version: report it, and migrate it (``python -m web upgrade``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from config.settings import Settings
from db import migrate
from db.engine import make_engine
from db.migrate import SchemaOutOfDate

__all__ = ["SchemaOutOfDate", "SchemaStatus", "schema_status", "upgrade_database"]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database is (None: empty or made before migrations) and where it should be."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """Whether no migration is due."""
        return self.current == self.head


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.catalog_url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_status(settings: Settings) -> SchemaStatus:
    """The database's migration state."""
    with _engine(settings) as engine:
        return SchemaStatus(migrate.current(engine), migrate.head())


def upgrade_database(settings: Settings) -> SchemaStatus:
    """Migrate the database to this release's schema; returns the state it was in before."""
    with _engine(settings) as engine:
        return SchemaStatus(migrate.upgrade(engine), migrate.head())
