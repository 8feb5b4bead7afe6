"""Keyword search over the catalog's chunks with PostgreSQL full-text search.

``chunks.search_vector`` is a stored generated ``tsvector`` column (heading path weighted B,
text weighted A, the ``english`` configuration: Snowball stemming and stop words) with a GIN
index, both created by migration 0003. Being generated, it is written by the same statement
as the chunk row: every add, replace and delete keeps it in step with the catalog in the same
transaction, and nothing is rebuilt per query. Ranking is BM25 as in SQLite's FTS5, computed
in the query from PostgreSQL's lexemes (:meth:`PostgresKeywordIndex.search`): PostgreSQL's own
ranks have no inverse document frequency, and its keyword leg alone found the gold passage of
half as many tune-half questions (bench/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from retrieval.keyword_terms import (
    PassageCount,
    PostingCounts,
    fit_postings,
    query_phrases,
    query_terms,
)
from retrieval.types import KeywordRanking


class PostgresKeywordIndex:
    """Full-text search restricted to one collection's ready documents (PostgreSQL)."""

    def __init__(self) -> None:
        self._total = PassageCount()
        self._postings = PostingCounts()
        self._term_counts = PostingCounts(ttl_s=60.0, remember_zero=False)

    def term_counts(self, session: Session, stems: list[str],
                    words: Mapping[str, Sequence[str]] | None = None
                    ) -> tuple[dict[str, int], int]:
        """``({stem: passages containing it}, passages in the index)``, over every collection.

        One query, a GIN-index lookup per term (a question has a handful). The index holds
        PostgreSQL's (Snowball) lexemes, and a Porter stem is often not one: "key" is "kei",
        "display" "displai", "during" "dure", "status" "statu", and counted 0 each made an
        ordinary word look like a name the documents lack, so the abstention model abstained
        (zsh test half: 0.84 of the answerable questions answered on PostgreSQL, 0.94 on
        SQLite). With ``words`` (the question's words behind each stem) each term is looked up
        as PostgreSQL parses those words, the lexemes it indexed for them; without, the stem
        both as it is and stemmed again ("releas" -> "relea"). A term that is only
        PostgreSQL stop words ("other", "own", "few") is not indexed at all: it counts as in
        every passage. Non-zero counts are reused for a minute.
        """
        if not stems:
            return {}, 0
        wanted = list(dict.fromkeys(stems))
        # Remembered by what was looked up, and how: the words behind a stem differ between
        # questions ("display", "displayed"), and a stem alone is another lookup again.
        lookups = {s: [s] if words is None else sorted(set(words.get(s) or [s]))
                   for s in wanted}
        how = "stem:" if words is None else "words:"
        keys = [how + "|".join(looked_up) for looked_up in lookups.values()]  # wanted's order
        by_key = dict(zip(keys, lookups.values(), strict=True))

        def count(session: Session, missing: list[str]) -> tuple[dict[str, int], int]:
            pairs = [(key, w) for key in missing for w in by_key[key]]
            return self._count_words(session, pairs, stems=words is None)

        counts = self._term_counts.get(session, keys, count)
        return {s: n for s, n in zip(wanted, counts, strict=True) if n}, self._total.get(session)

    def _count_words(self, session: Session, pairs: list[tuple[str, str]], stems: bool
                     ) -> tuple[dict[str, int], int]:
        """``({term: passages holding one of its words}, passages in the index)``: one query.

        ``pairs`` are ``(term, word)``; each word as PostgreSQL parses and stems it
        (``plainto_tsquery('english', word)``, what ``to_tsvector`` indexed), and when the
        words are ``stems`` (Porter stems) also as they are; a term's count is its best word's.
        """
        total = self._total.get(session)
        query = "plainto_tsquery('english', w)"
        if stems:
            query = f"({query} || plainto_tsquery('simple', w))"
        rows = session.execute(
            text("SELECT t, CASE WHEN numnode(plainto_tsquery('english', w)) = 0 THEN -1 "
                 f"ELSE (SELECT count(*) FROM chunks WHERE search_vector @@ {query}) END "
                 "FROM unnest(CAST(:terms AS text[]), CAST(:words AS text[])) AS x(t, w)"),
            {"terms": [t for t, _ in pairs], "words": [w for _, w in pairs]},
        ).all()
        out: dict[str, int] = {}
        for term, n in rows:
            out[str(term)] = max(out.get(str(term), 0), total if n < 0 else int(n))
        return out, total

    def _lexeme_counts(self, session: Session, lexemes: list[str]
                       ) -> tuple[dict[str, int], int]:
        """``({lexeme: passages containing it}, passages in the index)``: one GIN lookup each."""
        rows = session.execute(
            text("SELECT l, (SELECT count(*) FROM chunks "
                 "WHERE search_vector @@ CAST(quote_literal(l) AS tsquery)) "
                 "FROM unnest(CAST(:lex AS text[])) AS l"),
            {"lex": lexemes}).all()
        return {str(x): int(n) for x, n in rows}, self._total.get(session)

    def search(
        self, session: Session, collection_id: int, question: str, k: int,
        allowed_document_ids: Collection[int] | None = None,
        ranking: KeywordRanking = KeywordRanking(),
    ) -> list[tuple[int, float]]:
        """``(chunk_id, bm25)`` best first; higher is better.

        PostgreSQL's own ranks (``ts_rank``, ``ts_rank_cd``) count matches without weighing
        how rare a word is, so a question's common words ("curl" in the curl manual) decide
        the order. BM25 is computed here instead, as SQLite's FTS5 does (k1 1.2, b 0.75): the
        question's lexemes (parsed and stemmed by PostgreSQL, identifiers included), each
        weighed by its IDF over the whole index, term frequency from the matched passages'
        ``tsvector`` (a heading-path occurrence counts ``heading_weight``), length from the
        chunk's token count. Like sqlite-fts, the match is bounded (:func:`_bounded`).
        ``allowed_document_ids`` (when not None) restricts the match inside the SQL query; an
        empty collection of ids matches nothing.
        """
        if allowed_document_ids is not None and len(allowed_document_ids) == 0:
            return []
        words = query_terms(question) + (query_phrases(question) if ranking.phrases else [])
        if not words:
            return []
        lexemes = list(session.execute(
            text("SELECT lexeme FROM unnest(to_tsvector('english', :q))"),
            {"q": " ".join(words)}).scalars())
        if not lexemes:
            return []
        counts = self._postings.get(session, lexemes, self._lexeme_counts)
        total = max(self._total.get(session), 1)
        kept = _bounded(lexemes, counts, total, ranking.max_postings)
        if not kept:
            return []
        rows = self._run(session, collection_id, k, allowed_document_ids, kept, total,
                         ranking.heading_weight)
        if (len(rows) < k and len(kept) < len(lexemes) and allowed_document_ids is not None
                and sum(counts) <= 8 * ranking.max_postings):
            # The words left out can be all a reader's few documents share with the question
            # (as in sqlite-fts): every word, while that stays within a few times the bound.
            rows = self._run(session, collection_id, k, allowed_document_ids,
                             list(zip(lexemes, counts, strict=True)), total,
                             ranking.heading_weight)
        return rows

    def _run(self, session: Session, collection_id: int, k: int,
             allowed_document_ids: Collection[int] | None, kept: list[tuple[str, int]],
             total: int, heading_weight: float) -> list[tuple[int, float]]:
        """BM25 over the passages matching any of ``kept`` (lexeme, passage count)."""
        params: dict[str, object] = {"cid": collection_id, "k": k,
                                     "w": [0.0, 0.0, heading_weight, 1.0],
                                     "avglen": self._total.mean_tokens(session),
                                     # quoted lexemes: [\w.:-] only (query_terms, query_phrases)
                                     "match": " | ".join("'" + x.replace("'", "''") + "'"
                                                         for x, _ in kept)}
        # FTS5's BM25 (k1 1.2, b 0.75); ts_rank_cd of one lexeme is its weighted count. Each
        # count and the length norm are computed once per passage, in float8: numeric
        # arithmetic on the token count made a third of the query's time.
        counts, terms = [], []
        for i, (lexeme, n) in enumerate(kept):
            params[f"l{i}"], params[f"i{i}"] = lexeme, _idf(n, total)
            counts.append(f"CAST(ts_rank_cd(CAST(:w AS float4[]), c.search_vector, "
                          f"CAST(quote_literal(:l{i}) AS tsquery)) AS float8) AS t{i}")
            terms.append(f":i{i} * t.t{i} / (t.t{i} + t.norm)")
        restrict = ""
        if allowed_document_ids is not None:
            restrict = "AND d.id = ANY(:docs) "
            params["docs"] = sorted(int(i) for i in allowed_document_ids)
        statement = text(
            "SELECT c.id, 2.2 * (" + " + ".join(terms) + ") AS score "
            "FROM chunks c JOIN documents d ON d.id = c.document_id "
            "CROSS JOIN LATERAL (SELECT " + ", ".join(counts) + ", "
            "1.2 * (0.25 + 0.75 * CAST(c.token_count AS float8) / :avglen) AS norm) t "
            "WHERE c.search_vector @@ CAST(:match AS tsquery) "
            "AND d.collection_id = :cid AND d.status = 'ready' " + restrict
            + "ORDER BY score DESC, c.id LIMIT :k"
        )
        rows = session.execute(statement, params).all()
        return [(int(cid), float(score)) for cid, score in rows]


def _idf(n: int, total: int) -> float:
    """FTS5's BM25 IDF of a lexeme in ``n`` of ``total`` passages, floored at 1e-6.

    ``total`` is cached for a minute while lexeme counts can be newer (a document just added):
    a count above it is read as the whole index.
    """
    total = max(total, n)
    return max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)


def _bounded(lexemes: list[str], counts: list[int], total: int, max_postings: int
             ) -> list[tuple[str, int]]:
    """The lexemes to match, with their passage counts.

    A lexeme in more than half of all passages has no weight in BM25 (FTS5 floors its IDF
    at 1e-6) but would make nearly every passage a match to score: it is left out, unless
    every lexeme is such a one (then the rarest stays). The rest are bounded as sqlite-fts
    bounds its words (:func:`~retrieval.keyword_terms.fit_postings`).
    """
    useful = [i for i, n in enumerate(counts) if n <= total / 2] or [counts.index(min(counts))]
    kept = set(fit_postings([lexemes[i] for i in useful], [counts[i] for i in useful],
                            max_postings))
    return [(x, n) for x, n in zip(lexemes, counts, strict=True) if x in kept]
