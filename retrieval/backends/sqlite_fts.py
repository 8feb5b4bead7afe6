"""Persistent keyword (BM25) search over the catalog's chunks with SQLite FTS5.

The FTS5 table is an *external content* index of ``chunks`` maintained by triggers (created by
the migrations in ``db/migrations``), so it is updated inside the same transaction as the
chunk rows: every add, replace and delete keeps it in step with the catalog atomically, and
nothing is rebuilt per query. Ranking is FTS5's built-in BM25 (Porter stemming, Unicode
folding).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.evidence import stems
from retrieval.keyword_terms import (
    PassageCount,
    PostingCounts,
    fit_postings,
    is_stopword,
    phrase_words,
    query_phrases,
    query_terms,
)
from retrieval.types import KeywordRanking


def fts_query(question: str, max_terms: int = 32) -> str:
    """An FTS5 query: the question's content words (each quoted) and identifiers, OR-ed.

    Code identifiers and hyphenated names are quoted whole, which FTS5 matches as a phrase:
    what :meth:`SqliteKeywordIndex.search` runs while the words stay within its bound.
    """
    return _or(query_terms(question, max_terms)
               + [" ".join(phrase_words(p)) for p in query_phrases(question)])


class SqliteKeywordIndex:
    """BM25 search restricted to one collection's ready documents.

    The ranking's ``max_postings`` (:class:`~retrieval.types.KeywordRanking`) bounds the
    work per query on large indexes: BM25 scores every passage that contains a query word,
    so when the words' passage counts add up to more than this, the most common words
    (lowest IDF, least effect on the ranking) are left out of the match until the rest fit;
    the rarest word always stays. Small collections never reach the bound. With the
    ranking's ``phrases`` the question's code identifiers and hyphenated names
    (:func:`~retrieval.keyword_terms.query_phrases`) are matched as phrases as well, each
    while every word of it is in the match.
    """

    def __init__(self) -> None:
        self._total = PassageCount()
        self._postings = PostingCounts()
        self._json: dict[int, tuple[Collection[int], str]] = {}
        self._json_lock = threading.Lock()

    def term_counts(self, session: Session, stems: list[str],
                    words: Mapping[str, Sequence[str]] | None = None
                    ) -> tuple[dict[str, int], int]:
        """``({stem: passages containing it}, passages in the index)``, over every collection.

        ``stems`` are Porter stems (:func:`retrieval.evidence.stems`), the form FTS5 stores
        (so ``words`` is not needed).
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
        ranking: KeywordRanking = KeywordRanking(),
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
        params: dict[str, object] = {"cid": collection_id, "k": k,
                                     "hw": ranking.heading_weight}
        where = "WHERE d.collection_id = :cid AND d.status = 'ready' "
        # Rank inside FTS5 alone first, then look up only the best rows' documents: on a
        # large index the per-match joins cost twice the ranking. The reader's documents are
        # checked on those rows in Python (a set lookup; the SQL form below builds a temporary
        # index of every readable document per query). Exact whenever at least k of the
        # over-fetched rows pass; otherwise the joined form, restricted inside the SQL.
        ranked_first = text(
            "SELECT c.id, -f.rank, d.id FROM (SELECT rowid AS id, "
            "bm25(chunks_fts, 1.0, :hw) AS rank "
            "FROM chunks_fts WHERE chunks_fts MATCH :q ORDER BY rank LIMIT :over) f "
            "JOIN chunks c ON c.id = f.id JOIN documents d ON d.id = c.document_id "
            + where + "ORDER BY f.rank"
        )
        joined = text(
            "SELECT c.id, -bm25(chunks_fts, 1.0, :hw) AS score "
            "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN documents d ON d.id = c.document_id "
            "WHERE chunks_fts MATCH :q AND " + where.removeprefix("WHERE ")
            + ("AND d.id IN (SELECT value FROM json_each(:docs)) "
               if allowed_document_ids is not None else "")
            + "ORDER BY bm25(chunks_fts, 1.0, :hw) LIMIT :k"
        )

        phrases = [phrase_words(p) for p in query_phrases(question)] if ranking.phrases else []

        def run(words: list[str]) -> list[Any]:
            kept = set(words)
            args = {**params, "over": 8 * k, "q": _or(words + [
                " ".join(p) for p in phrases if all(w in kept or is_stopword(w) for w in p)])}
            rows = [(cid, score) for cid, score, doc in session.execute(ranked_first, args)
                    if allowed_document_ids is None or doc in allowed_document_ids][:k]
            if len(rows) >= k:
                return rows
            if allowed_document_ids is not None:
                # One JSON parameter, however many ids (no bound-variable limit to hit).
                args["docs"] = self._ids_json(allowed_document_ids)
            return list(session.execute(joined, args).all())

        bounded, postings = self._bounded(session, terms, ranking.max_postings)
        if not bounded:
            return []  # every word is too common to be a keyword here: the dense leg reads them
        rows = run(bounded)
        if (len(rows) < k and len(bounded) < len(terms) and allowed_document_ids is not None
                and postings <= 8 * ranking.max_postings):
            # The rarer words found too little in what this reader may see (a few documents
            # among many): every word, while that stays within a few times the bound.
            rows = run(terms)
        return [(int(cid), float(score)) for cid, score in rows]

    def _ids_json(self, ids: Collection[int]) -> str:
        """``ids`` as a JSON array, remembered for the last few sets.

        A reader's cached access scope comes back as the same object on every search.
        """
        with self._json_lock:
            held = self._json.get(id(ids))
            if held is not None and held[0] is ids:
                return held[1]
        out = json.dumps(sorted(int(i) for i in ids))
        with self._json_lock:
            if len(self._json) >= 16:
                self._json.pop(next(iter(self._json)))
            self._json[id(ids)] = (ids, out)  # holding ids keeps its id from being reused
        return out

    def _bounded(self, session: Session, terms: list[str], max_postings: int
                 ) -> tuple[list[str], int]:
        """``terms`` that fit ``max_postings`` (rarest first), and all terms' postings.

        A word that alone occurs in more passages than the bound is no keyword at this scale
        (the dense leg still reads it); when every word is such a word, nothing is kept.
        """
        # The index's form of each word (the stemmer turns a lone "s" into "": look it up as is).
        keys = [stem or term for stem, term in zip(stems(terms), terms, strict=True)]
        postings = self._postings.get(session, keys, self.term_counts)
        return fit_postings(terms, postings, max_postings), sum(postings)


def _or(terms: list[str]) -> str:
    """FTS5's OR of quoted terms; a quoted string of several words matches them as a phrase."""
    return " OR ".join(f'"{t}"' for t in terms)
