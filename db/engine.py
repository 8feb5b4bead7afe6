"""Engine and session factory for the catalog database (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys, full sync and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def read_snapshot(session: Session) -> None:
    """Let the session's next reads see one consistent snapshot; call it first in a session.

    Python's sqlite3 runs each SELECT outside a transaction (it only begins one before a
    write), so two queries of one search could see before and after another connection's
    commit (a replaced document found by neither). SQLite gets an explicit read transaction;
    PostgreSQL REPEATABLE READ.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    elif dialect == "sqlite":
        dbapi = session.connection().connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            dbapi.execute("BEGIN")


#: Tables whose planner statistics a large ingest changes (PostgreSQL).
INGEST_TABLES = ("chunks", "documents")


def refresh_statistics(session: Session, changed_rows: int,
                       tables: Sequence[str] = INGEST_TABLES) -> list[str]:
    """ANALYZE ``tables`` on PostgreSQL when ``changed_rows`` outgrew their statistics.

    Without statistics the planner guesses: right after the first ingest of the curl set it
    chose a plan that took 21 ms to load a search's candidates instead of 1 (search p95 61
    against 39 ms after ANALYZE; bench/README.md). Autovacuum analyzes a table once more rows
    changed than 50 + 10% of it, but only on its next round (a minute by default), and not
    at all where it is switched off. The same rule is applied here at once, against the
    table size the planner last saw (``pg_class.reltuples``). Returns the tables analyzed;
    does nothing on SQLite (its planner needs no statistics for these queries), and a
    failure (no privilege) is logged, never raised: the ingest has committed.
    """
    if session.get_bind().dialect.name != "postgresql" or changed_rows <= 0:
        return []
    try:
        sizes = dict(session.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:t) "
                 "AND relkind = 'r' AND relnamespace = to_regnamespace(current_schema())"),
            {"t": list(tables)}).tuples().all())
        stale = [t for t in tables if t in sizes
                 and changed_rows > 50 + 0.1 * max(float(sizes[t]), 0.0)]
        for table in stale:  # names from INGEST_TABLES, never user input
            session.execute(text(f'ANALYZE "{table}"'))
        session.commit()
        return stale
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("could not refresh planner statistics (%s): searches may be slower until "
                    "autovacuum analyzes %s", exc.__class__.__name__, ", ".join(tables))
        return []
