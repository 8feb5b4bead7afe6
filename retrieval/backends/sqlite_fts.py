"""Persistent keyword (BM25) search over the catalog's chunks with SQLite FTS5.

The FTS5 table is an *external content* index of ``chunks`` maintained by triggers (created by
the migrations in ``db/migrations``), so it is updated inside the same transaction as the
chunk rows: every add, replace and delete keeps it in step with the catalog atomically, and
nothing is rebuilt per query. Ranking is FTS5's built-in BM25 (Porter stemming, Unicode
folding).
"""

from __future__ import annotations

import json
from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.evidence import stems
from retrieval.keyword_terms import PassageCount, query_terms


def fts_query(question: str, max_terms: int = 32) -> str:
    """An FTS5 query OR-ing the question's distinct content words (each quoted)."""
    return _or(query_terms(question, max_terms))


class SqliteKeywordIndex:
    """BM25 search restricted to one collection's ready documents.

    ``max_postings`` bounds the work per query on large indexes: BM25 scores every passage
    that contains a query word, so when the words' passage counts add up to more than this,
    the most common words (lowest IDF, least effect on the ranking) are left out of the
    match until the rest fit; the rarest word always stays. Small collections never reach
    the bound.
    """

    def __init__(self, max_postings: int = 50_000) -> None:
        self._total = PassageCount()
        self.max_postings = max_postings

    def term_counts(self, session: Session, stems: list[str]) -> tuple[dict[str, int], int]:
        """``({stem: passages containing it}, passages in the index)``, over every collection.

        ``stems`` are Porter stems (:func:`retrieval.evidence.stems`), the form FTS5 stores.
        Read from the index's vocabulary: no scan, whatever the size of the index.
        """
        if session.get_bind().dialect.name != "sqlite" or not stems:
            return {}, 0
        rows = session.execute(
            text("SELECT term, doc FROM chunks_fts_vocab "
                 "WHERE term IN (SELECT value FROM json_each(:terms))"),
            {"terms": json.dumps(stems)},
        ).all()
        return {str(term): int(doc) for term, doc in rows}, self._total.get(session)

    def search(
        self, session: Session, collection_id: int, question: str, k: int,
        allowed_document_ids: Collection[int] | None = None,
    ) -> list[tuple[int, float]]:
        """``(chunk_id, bm25)`` best first; higher is better (FTS5's sign flipped).

        ``allowed_document_ids`` (when not None) restricts the match to those documents inside
        the SQL query, so a few allowed documents among many are still found; an empty
        collection of ids matches nothing.
        """
        if allowed_document_ids is not None and len(allowed_document_ids) == 0:
            return []
        if session.get_bind().dialect.name != "sqlite":
            return []
        terms = query_terms(question, 32)
        if not terms:
            return []
        params: dict[str, object] = {"cid": collection_id, "k": k}
        restrict = ""
        if allowed_document_ids is not None:
            # One JSON parameter, however many ids (no bound-variable limit to hit).
            restrict = "AND d.id IN (SELECT value FROM json_each(:docs)) "
            params["docs"] = json.dumps(sorted(int(i) for i in allowed_document_ids))
        sql = text(
            "SELECT c.id, -bm25(chunks_fts, 1.0, 0.5) AS score "
            "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN documents d ON d.id = c.document_id "
            "WHERE chunks_fts MATCH :q AND d.collection_id = :cid AND d.status = 'ready' "
            + restrict
            + "ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT :k"
        )
        bounded = self._bounded(session, terms)
        rows = session.execute(sql, {**params, "q": _or(bounded)}).all()
        if len(rows) < k and len(bounded) < len(terms):
            # The rarer words found too little (in what this reader may see): every word.
            rows = session.execute(sql, {**params, "q": _or(terms)}).all()
        return [(int(cid), float(score)) for cid, score in rows]

    def _bounded(self, session: Session, terms: list[str]) -> list[str]:
        """``terms`` without the most common ones past :attr:`max_postings` (rarest kept)."""
        counts, _ = self.term_counts(session, stems(terms))
        postings = [counts.get(stem, 0) for stem in stems(terms)]
        if sum(postings) <= self.max_postings:
            return terms
        kept: list[str] = []
        budget = self.max_postings
        for n, term in sorted(zip(postings, terms, strict=True)):
            if kept and n > budget:
                break
            kept.append(term)
            budget -= n
        return [t for t in terms if t in kept]


def _or(terms: list[str]) -> str:
    return " OR ".join(f'"{t}"' for t in terms)
