"""What the migration tests share: stepping the schema down, and reading a table's columns."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from db import migrate


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate ``engine``'s database down to ``revision`` (Alembic, on its own connection)."""
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def columns(engine: Engine, table: str) -> set[str]:
    """The names of ``table``'s columns as the database has them now."""
    return {c["name"] for c in inspect(engine).get_columns(table)}
