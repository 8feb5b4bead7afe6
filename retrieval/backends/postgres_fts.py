"""Keyword search over the catalog's chunks with PostgreSQL full-text search.

``chunks.search_vector`` is a stored generated ``tsvector`` column (heading path weighted B,
text weighted A, the ``english`` configuration: Snowball stemming and stop words) with a GIN
index, both created by migration 0003. Being generated, it is written by the same statement
as the chunk row: every add, replace and delete keeps it in step with the catalog in the same
transaction, and nothing is rebuilt per query. Ranking is ``ts_rank_cd`` (cover density).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.keyword_terms import PassageCount, query_phrases, query_terms


def tsquery(question: str, max_terms: int = 32) -> str:
    """A ``to_tsquery`` expression OR-ing the question's content words (letters/digits only)."""
    return " | ".join(query_terms(question, max_terms))


class PostgresKeywordIndex:
    """Full-text search restricted to one collection's ready documents (PostgreSQL)."""

    def __init__(self, heading_weight: float = 0.1, phrases: bool = True) -> None:
        self._total = PassageCount()
        self.heading_weight = heading_weight
        self.phrases = phrases

    def term_counts(self, session: Session, stems: list[str]) -> tuple[dict[str, int], int]:
        """``({stem: passages containing it}, passages in the index)``, over every collection.

        One GIN-index lookup per stem (a question has a handful); PostgreSQL stems the stem
        again with its own (Snowball) stemmer, which leaves Porter stems as they are or maps
        them to the same lexeme as the full word.
        """
        if not stems:
            return {}, 0
        counts: dict[str, int] = {}
        for stem in dict.fromkeys(stems):
            n = session.execute(
                text("SELECT count(*) FROM chunks "
                     "WHERE search_vector @@ plainto_tsquery('english', :stem)"),
                {"stem": stem},
            ).scalar()
            if n:
                counts[stem] = int(n)
        return counts, self._total.get(session)

    def search(
        self, session: Session, collection_id: int, question: str, k: int,
        allowed_document_ids: Collection[int] | None = None,
    ) -> list[tuple[int, float]]:
        """``(chunk_id, rank)`` best first; higher is better.

        ``allowed_document_ids`` (when not None) restricts the match inside the SQL query; an
        empty collection of ids matches nothing.
        """
        if allowed_document_ids is not None and len(allowed_document_ids) == 0:
            return []
        query = tsquery(question)
        phrases = query_phrases(question) if self.phrases else []
        if not query:
            return []
        # ts_rank_cd's weights are {D, C, B, A}: the heading path is B, the text A.
        params: dict[str, object] = {"q": query, "cid": collection_id, "k": k,
                                     "w": [0.1, 0.2, self.heading_weight, 1.0]}
        match = "to_tsquery('english', :q)"
        rank = "ts_rank_cd(CAST(:w AS float4[]), c.search_vector, q.query)"
        if phrases:
            # Each identifier parsed as the documents were (one lexeme or a phrase), OR-ed
            # into the match; the passages naming it also get the identifiers' own rank.
            named = " || ".join(f"phraseto_tsquery('english', :p{i})" for i in range(len(phrases)))
            params.update((f"p{i}", p) for i, p in enumerate(phrases))
            match = f"(SELECT {match} || {named})"
            rank += f" + ts_rank_cd(CAST(:w AS float4[]), c.search_vector, {named})"
        restrict = ""
        if allowed_document_ids is not None:
            restrict = "AND d.id = ANY(:docs) "
            params["docs"] = sorted(int(i) for i in allowed_document_ids)
        statement = text(
            "SELECT c.id, " + rank + " AS score "
            "FROM chunks c JOIN documents d ON d.id = c.document_id, "
            + match + " AS q(query) "
            "WHERE c.search_vector @@ q.query AND d.collection_id = :cid "
            "AND d.status = 'ready' " + restrict
            + "ORDER BY score DESC, c.id LIMIT :k"
        )
        rows = session.execute(statement, params).all()
        return [(int(cid), float(score)) for cid, score in rows]
