"""Alembic environment: migrations run on the connection :mod:`db.migrate` hands in.

``python -m db revision --autogenerate -m "..."`` (see docs/development.md) compares the
models in :mod:`db.models` with a database and drafts the next migration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from db.migrate import include_name
from db.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",  # ALTER TABLE via copy on SQLite
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
        conn.commit()
