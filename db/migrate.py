"""Create or upgrade the database to the newest schema (Alembic, ``db/migrations``).

:func:`upgrade` is the only place tables are created. A database made before migrations
existed (no ``alembic_version`` table) is adopted by the first migration, which creates only
what is missing and keeps every row.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from db.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# What the keyword indexes keep with raw DDL, outside the models: SQLite's FTS5 tables (and
# their shadow tables), PostgreSQL's generated tsvector column and its GIN index.
UNMODELLED = {"table": "chunks_fts", "column": "search_vector", "index": "ix_chunks_search_vector"}


def include_name(name: str | None, type_: str, _parent: object = None) -> bool:
    """Autogenerate filter: compare the modelled schema, not the keyword indexes' own."""
    prefix = UNMODELLED.get(type_)
    return not (prefix and name is not None and name.startswith(prefix))


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for ``db/migrations`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    """The newest migration's revision id."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: empty or made before migrations)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database behind ``engine`` to ``revision``; returns where it was before."""
    before = current(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration."""
    return current(engine) == head()


def schema_diff(engine: Engine) -> list[object]:
    """Differences between the models and the database (empty when they agree)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))


class SchemaOutOfDate(RuntimeError):
    """The database is older (or newer) than this release and may not be migrated now."""


def prepare(engine: Engine, *, auto_upgrade: bool) -> None:
    """Bring the database to this release's schema, or refuse one that is out of date."""
    if auto_upgrade:
        upgrade(engine)
        return
    at, want = current(engine), head()
    if at != want:
        raise SchemaOutOfDate(
            f"the database schema is at {at or 'no migration (empty or pre-migration)'}, this "
            f"release needs {want}: run `python -m web upgrade` (back up the data directory "
            "first), or set database_auto_upgrade: true"
        )
