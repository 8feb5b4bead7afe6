"""What every keyword backend shares: the words of a question, the passage count (IDF's N)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
# Question words and fillers that carry no topic; BM25's IDF handles the rest.
_STOPWORDS = frozenset(
    """
    a an the of to in on for and or is are was were be been being by with as at from that
    this these those it its i me my we our you your he she they them their what which who
    whom whose when where why how do does did can could should would may might must will
    shall there here not no any all some if then than so such about into over under up down
    out get got have has had
    """.split()
)


def query_terms(question: str, max_terms: int = 32) -> list[str]:
    """The question's distinct content words, lower-cased, in order (letters and digits only)."""
    terms: list[str] = []
    for word in _TOKEN_RE.findall(question.lower()):
        if word in _STOPWORDS or word in terms or len(word) > 64:
            continue
        terms.append(word)
    return terms[:max_terms]


# A code identifier or hyphenated name: words joined by . _ : or - ("ca-bundle.crt",
# "CURLOPT_WRITEDATA", "os.path.join", "H.263-RTP"). "/" is left out: "delete/rename" is a
# choice between words, not one name.
_IDENT_RE = re.compile(r"[^\W_]+(?:[._:\-]+[^\W_]+)+", re.UNICODE)


def query_phrases(question: str, max_phrases: int = 8) -> list[str]:
    """The question's code identifiers and hyphenated names (lower case), in order.

    SQLite's tokenizer splits "ca-bundle.crt" into ca / bundle / crt, so a question naming it
    matches any passage with one of the words; searched as a phrase as well
    (:func:`phrase_words`), the passages that name the same thing rank above those that
    merely share a word. PostgreSQL's parser keeps "ca-bundle.crt" and "os.path.join" whole,
    as one lexeme a word-by-word query never matches; parsed whole, the identifier gives the
    lexeme the documents have.
    """
    out: list[str] = []
    for ident in _IDENT_RE.findall(question.lower()):
        words = phrase_words(ident)
        if 2 <= len(words) <= 8 and all(len(w) <= 64 for w in words) and ident not in out:
            out.append(ident)
    return out[:max_phrases]


def phrase_words(identifier: str) -> list[str]:
    """The words of an identifier as the keyword query reads words (ca-bundle.crt: ca bundle crt)."""
    return _TOKEN_RE.findall(identifier.lower())


def is_stopword(word: str) -> bool:
    """Whether ``word`` (lower case) is one of the words :func:`query_terms` leaves out."""
    return word in _STOPWORDS


def fit_postings(terms: list[str], postings: list[int], max_postings: int) -> list[str]:
    """``terms`` (in order) whose passage counts fit ``max_postings`` together, rarest first.

    A term that alone occurs in more passages than the budget left is no keyword at this
    scale (the dense leg still reads it); when every term is such a term, nothing is kept.
    """
    kept: set[str] = set()
    budget = max_postings
    for n, term in sorted(zip(postings, terms, strict=True)):
        if n > budget:
            break
        kept.add(term)
        budget -= n
    return [t for t in terms if t in kept]


class PassageCount:
    """The number of passages in the index and their mean token count (BM25's N, avgdl).

    Both are re-read, in one query, at most once per ``ttl_s`` seconds.
    """

    def __init__(self, ttl_s: float = 60.0) -> None:
        self._ttl_s = ttl_s
        self._read: tuple[float, int, float] | None = None  # (when read, passages, mean)

    def _fresh(self, session: Session) -> tuple[float, int, float]:
        now = time.monotonic()
        if self._read is None or now - self._read[0] > self._ttl_s:
            total, mean = session.execute(
                text("SELECT count(*), avg(token_count) FROM chunks")).one()
            self._read = (now, int(total or 0), float(mean or 1.0) or 1.0)
        return self._read

    def get(self, session: Session) -> int:
        """The passage count, from the cache when it is fresh enough."""
        return self._fresh(session)[1]

    def mean_tokens(self, session: Session) -> float:
        """The passages' mean token count (1 for an empty index), cached like :meth:`get`."""
        return self._fresh(session)[2]


class PostingCounts:
    """Passages per index term, remembered for ``ttl_s`` seconds (for bounding query work).

    Counting a common word's passages walks its whole posting list (tens of milliseconds at
    a million chunks); a slightly stale count is good enough to decide which words a query
    can afford. The abstention model must see a new document's words at once: for its
    counts, ``remember_zero=False`` keeps only the words found, so a word in no passage (one
    index probe) is looked up every time.
    """

    def __init__(self, ttl_s: float = 300.0, max_terms: int = 200_000,
                 remember_zero: bool = True) -> None:
        self._ttl_s = ttl_s
        self._max = max_terms
        self._remember_zero = remember_zero
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, keys: list[str],
            count: Callable[[Session, list[str]], tuple[dict[str, int], int]]) -> list[int]:
        """The passage count of each key; ``count`` is asked for the ones not remembered."""
        now = time.monotonic()
        with self._lock:
            known = {k: c for k, (t, c) in ((k, self._counts.get(k, (-1e18, 0))) for k in keys)
                     if now - t <= self._ttl_s}
        missing = sorted(set(keys) - known.keys())
        if missing:
            counts, _ = count(session, missing)
            fresh = {k: counts.get(k, 0) for k in missing}
            with self._lock:
                if len(self._counts) > self._max:
                    self._counts.clear()
                self._counts.update((k, (now, c)) for k, c in fresh.items()
                                    if c or self._remember_zero)
            known.update(fresh)
        return [known[k] for k in keys]
