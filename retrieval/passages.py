"""Passages: catalog rows behind the ranked chunk ids, and small-to-big growth around them.

Retrieval matches small chunks; what it returns are passages. :func:`hydrate` loads the
committed chunks and their documents, :func:`make_hit` turns one into a :class:`Hit`, and
:func:`grow_passages` grows each hit with the adjacent chunks of its document section, then,
with ``scope="page"``, of the neighbouring sections on its page (one batched neighbour query
for just the candidates needed), merges hits whose passages overlap, and attaches neighbour
context.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import Chunk, Document
from retrieval.types import Hit

_SEPARATOR = "\n\n"  # how blocks are joined in a document's text (ingest.types)
_GROW_CHUNKS = 8  # a passage never grows by more than this many chunks on a side


def hydrate(session: Session, ids: list[int]) -> dict[int, tuple[Chunk, Document]]:
    """Chunk id -> (chunk, document) for the ids whose document is ready (committed)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Chunk, Document)
        .join(Document, Chunk.document_id == Document.id)
        .where(Chunk.id.in_(ids), Document.status == "ready")
    ).all()
    return {chunk.id: (chunk, doc) for chunk, doc in rows}


def make_hit(
    row: tuple[Chunk, Document], collection: str, cosine: float, fused: float,
    keyword_score: float | None,
) -> Hit:
    """A hydrated chunk as a hit on its own (before any growth)."""
    chunk, doc = row
    return Hit(
        chunk_id=chunk.id, document_id=doc.id, document=doc.name, collection=collection,
        page=chunk.page, heading_path=chunk.heading_path, text=chunk.text, score=cosine,
        char_start=chunk.char_start, char_end=chunk.char_end, document_version=doc.version,
        fused_score=fused, keyword_score=keyword_score,
    )


def grow_passages(
    session: Session, hits: list[Hit], ordinals: dict[int, int], k: int, max_chars: int,
    neighbours: int, scope: Literal["section", "page"] = "section",
) -> list[Hit]:
    """The first ``k`` hits as passages: each matched chunk grown with adjacent chunks.

    Adjacent chunks join a passage while they belong to the same page (a citation names one
    page), touch it in the document's text (so the passage is one contiguous span of it) and
    the passage stays within ``max_chars``; growth alternates before/after. It first stays
    within the matched chunk's section (heading path); with ``scope="page"`` it then goes on
    into the neighbouring sections, so a short document (a man page of many small sections)
    comes back whole, once, instead of as several passages. A hit whose
    passage overlaps a better hit's is dropped (merged into it). ``neighbours`` chunks on each
    side of the passage become ``context_before``/``context_after``. All neighbours of all
    candidates needed come from one query per round (usually one round).
    """
    reach = (_GROW_CHUNKS if max_chars else 0) + neighbours
    candidates = hits[: max(3 * k, k + 10)]
    rows: dict[int, dict[int, Any]] = {}
    taken: dict[int, list[tuple[int, int]]] = {}
    out: list[Hit] = []
    pos = 0
    while pos < len(candidates) and len(out) < k:
        # Neighbours of just enough candidates to fill k passages (plus two for merges),
        # one query per round; most searches need one round.
        batch = candidates[pos: pos + k - len(out) + 2]
        pos += len(batch)
        _fetch_around(session, batch, ordinals, reach, rows)
        for hit in batch:
            chunks, ordinal = rows.get(hit.document_id, {}), ordinals[hit.chunk_id]
            me = chunks.get(ordinal)
            if me is None:  # changed since the search (a replace committed): keep it as is
                out.append(hit)
            else:
                lo, hi = _grow(chunks, me, ordinal, max_chars, scope)
                if any(lo <= b and hi >= a for a, b in taken.get(hit.document_id, [])):
                    continue  # this stretch is already a better hit's passage
                taken.setdefault(hit.document_id, []).append((lo, hi))
                text, match_start = _join(chunks, lo, hi, ordinal)
                out.append(replace(
                    hit, text=text, char_start=chunks[lo].char_start,
                    char_end=chunks[hi].char_end, match_start=match_start,
                    match_end=match_start + len(me.text),
                    context_before=_SEPARATOR.join(chunks[o].text
                                                   for o in range(lo - neighbours, lo)
                                                   if o in chunks),
                    context_after=_SEPARATOR.join(chunks[o].text
                                                  for o in range(hi + 1, hi + 1 + neighbours)
                                                  if o in chunks),
                ))
            if len(out) == k:
                break
    return out


def _fetch_around(session: Session, hits: list[Hit], ordinals: dict[int, int], reach: int,
                  rows: dict[int, dict[int, Any]]) -> None:
    """Add the chunks within ``reach`` of each hit's matched chunk to ``rows`` (one query).

    The ranges are SQL text with bound values: built from column expressions they cost more
    than the query itself (SQLAlchemy coerces every operand), and the statement, one per
    number of hits, is compiled once and cached.
    """
    table = Chunk.__tablename__
    params: dict[str, int] = {}
    ranges = []
    for i, h in enumerate(hits):
        ordinal = ordinals[h.chunk_id]
        params[f"d{i}"], params[f"lo{i}"], params[f"hi{i}"] = (
            h.document_id, ordinal - reach, ordinal + reach)
        ranges.append(f"({table}.document_id = :d{i} "
                      f"AND {table}.ordinal BETWEEN :lo{i} AND :hi{i})")
    near = text(" OR ".join(ranges)).bindparams(**params)
    for row in session.execute(select(Chunk.document_id, Chunk.ordinal, Chunk.char_start,
                                      Chunk.char_end, Chunk.text, Chunk.heading_path, Chunk.page)
                               .where(near)):
        rows.setdefault(row.document_id, {})[row.ordinal] = row


def _touch(a: Any, b: Any) -> bool:
    """Chunk ``b`` follows ``a`` in the document's text with at most a block separator between."""
    return a.char_end + len(_SEPARATOR) >= b.char_start


def _grow(chunks: dict[int, Any], me: Any, ordinal: int, max_chars: int,
          scope: Literal["section", "page"]) -> tuple[int, int]:
    """The ordinals ``lo..hi`` of the passage around chunk ``ordinal``: its own section first."""
    lo = hi = ordinal
    length = len(me.text)
    for same_section in ((True, False) if scope == "page" else (True,)):
        grew = max_chars > 0
        while grew:
            grew = False
            for side in (-1, 1):
                edge = lo if side < 0 else hi
                other = chunks.get(edge + side)
                if (other is None or (same_section and other.heading_path != me.heading_path)
                        or other.page != me.page or abs(edge + side - ordinal) > _GROW_CHUNKS
                        or length + len(other.text) > max_chars
                        or not (_touch(other, chunks[edge]) if side < 0
                                else _touch(chunks[edge], other))):
                    continue
                length += len(other.text)
                lo, hi = (edge + side, hi) if side < 0 else (lo, edge + side)
                grew = True
    return lo, hi


def _join(chunks: dict[int, Any], lo: int, hi: int, ordinal: int) -> tuple[str, int]:
    """Chunks ``lo..hi`` joined as the document has them, and where chunk ``ordinal`` starts.

    Overlapping split pieces appear once and block separators are kept, so the text is
    exactly the document's text from the first chunk's start to the last one's end.
    """
    first = chunks[lo]
    text, end = first.text, first.char_end
    for o in range(lo + 1, hi + 1):
        c = chunks[o]
        if c.char_start < end:
            text += c.text[end - c.char_start:]
        else:
            text += _SEPARATOR[: c.char_start - end] + c.text
        end = max(end, c.char_end)
    return text, chunks[ordinal].char_start - first.char_start
