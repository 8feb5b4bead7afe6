"""Consistency of the vector index with the catalog, and its repair.

The catalog (SQL) is the source of truth and holds every chunk's text, so an index that has
drifted from it (a crash between a commit and the index save, a vector file restored from
elsewhere) is repaired without losing anything: vectors without a catalog chunk are removed,
and catalog chunks without a vector are embedded again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.sections import VectorIndexSettings
from db.models import Chunk, Collection, Document
from ingest.chunker import HEADING_SEPARATOR, embed_text_for
from retrieval.types import Embedder, VectorIndex


def check_index(
    session_factory: sessionmaker[Session],
    index: VectorIndex,
    embedder: Embedder,
    writer_lock: AbstractContextManager[object],
    repair: bool = False,
) -> list[str]:
    """Compare catalog chunk ids with the index's ids per collection; optionally repair.

    Runs under ``writer_lock``. Returns one line per problem found (before any repair).
    """
    problems: list[str] = []
    with writer_lock, session_factory() as session:
        remove_temp_files = getattr(index, "remove_temp_files", None)
        if repair and remove_temp_files is not None:  # a save or rebuild killed mid-write
            remove_temp_files()
        for coll in session.scalars(select(Collection)):
            index.reload(coll.id)
            catalog_ids = set(
                session.scalars(
                    select(Chunk.id)
                    .join(Document, Chunk.document_id == Document.id)
                    .where(Document.collection_id == coll.id, Document.status == "ready")
                )
            )
            index_ids = set(index.ids(coll.id).tolist())
            extra = sorted(index_ids - catalog_ids)
            missing = sorted(catalog_ids - index_ids)
            if extra:
                problems.append(f"{coll.name}: {len(extra)} vectors without a catalog chunk")
            if missing:
                problems.append(f"{coll.name}: {len(missing)} catalog chunks without a vector")
            if repair and (extra or missing):
                index.remove(coll.id, np.array(extra, dtype=np.int64))
                if missing:
                    chunks = session.scalars(select(Chunk).where(Chunk.id.in_(missing))).all()
                    texts = [
                        embed_text_for(
                            tuple(c.heading_path.split(HEADING_SEPARATOR))
                            if c.heading_path else (),
                            c.text,
                        )
                        for c in chunks
                    ]
                    index.add(
                        coll.id,
                        np.array([c.id for c in chunks], dtype=np.int64),
                        embedder.embed_documents(texts),
                    )
                index.save(coll.id)
    return problems


def rebuild_indexes(
    session_factory: sessionmaker[Session],
    index: VectorIndex,
    writer_lock: AbstractContextManager[object],
    settings: VectorIndexSettings,
    collection: str | None = None,
    factory: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Rebuild collections' vector indexes in the structure ``settings`` name; one line each.

    Runs under ``writer_lock`` (ingest waits, searches go on with the old index until the new
    file replaces it atomically). ``factory`` overrides the settings (``Flat``, ``IVF...``).
    """
    say = progress or (lambda _msg: None)
    done: list[str] = []
    with writer_lock, session_factory() as session:
        query = select(Collection).order_by(Collection.name)
        if collection is not None:
            query = query.where(Collection.name == collection)
        collections = list(session.scalars(query))
        if collection is not None and not collections:
            raise LookupError(f"no collection named {collection!r}")
        for coll in collections:
            index.reload(coll.id)
            count = index.count(coll.id)
            target = factory or settings.structure_for(count)
            before = index.structure(coll.id)
            after = index.rebuild(coll.id, target,
                                  progress=lambda msg, name=coll.name: say(f"{name}: {msg}"))
            done.append(f"{coll.name}: {count} vectors, {before} -> {after}")
    return done
