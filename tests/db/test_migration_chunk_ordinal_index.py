"""Migration 0013: chunks indexed by (document, ordinal) for the passages' neighbour reads."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from db import migrate
from tests.db.steps import downgrade

# The shape of retrieval.passages._fetch_around's query: ordinal ranges around hits.
NEIGHBOURS = ("SELECT document_id, ordinal FROM chunks WHERE (document_id = 1 AND ordinal "
              "BETWEEN 2 AND 4) OR (document_id = 2 AND ordinal BETWEEN 0 AND 1)")


def _indexes(engine: Engine) -> dict[str, list[str]]:
    return {ix["name"]: list(ix["column_names"]) for ix in inspect(engine).get_indexes("chunks")}


def _check_up_and_down(engine: Engine) -> None:
    migrate.upgrade(engine, "0012")
    assert _indexes(engine).get("ix_chunks_document_id") == ["document_id"]
    migrate.upgrade(engine, "0013")
    indexes = _indexes(engine)
    assert indexes.get("ix_chunks_document_ordinal") == ["document_id", "ordinal"]
    assert "ix_chunks_document_id" not in indexes
    assert migrate.schema_diff(engine) == [] or migrate.head() != "0013"
    downgrade(engine, "0012")
    indexes = _indexes(engine)
    assert indexes.get("ix_chunks_document_id") == ["document_id"]
    assert "ix_chunks_document_ordinal" not in indexes
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []


def test_chunk_ordinal_index_up_and_down(empty_engine: Engine) -> None:
    """On SQLite and on PostgreSQL."""
    _check_up_and_down(empty_engine)


def test_neighbour_ranges_are_index_range_searches(tmp_path) -> None:
    """SQLite reads each hit's neighbours as a range of the new index, not every chunk of the
    document (what it did with the document id alone)."""
    from db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            plan = " ".join(str(row[-1]) for row in
                            conn.execute(text("EXPLAIN QUERY PLAN " + NEIGHBOURS)))
        assert "ix_chunks_document_ordinal (document_id=? AND ordinal>? AND ordinal<?)" in plan
    finally:
        engine.dispose()
