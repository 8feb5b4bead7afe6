"""Does the collection answer the question? An abstention signal taken from retrieval itself.

A cosine floor alone cannot tell a near miss ("How do I set up the Powerlevel10k theme in
zsh?" over the zsh manual) from a real question: the best passage is on topic either way.
Three cheap measurements, no model call beyond the search already done, separate them:

- ``top_score``: the best passage's cosine similarity to the question;
- ``coverage``: the share of the question's content terms, weighted by IDF, that the best
  passage contains (stemmed as the keyword index stems);
- ``unknown``: whether a content term of the question that can name a thing occurs nowhere
  in the keyword index (a product, library or place the documents never mention). A word
  counts when it can be a noun, or when the English lexicon does not know it (names, codes,
  other languages); a word that is only a verb, adjective or adverb ("complains", "devoid",
  "effortlessly") does not: a FAQ that never says "complains" can still answer the question.
  Placeholders such as "XXX" or "foo" are not content terms.

A logistic model over them gives ``p_unanswerable``; the answer abstains when it reaches
``retrieval.abstention.threshold``, or when the best passage is below
``retrieval.min_score``. The weights were fitted on the tune halves of the four evaluation
sets by ``bench/calibrate_abstention.py`` and checked on the test halves (bench/README.md).
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config.settings import AbstentionSettings
from retrieval.types import Hit

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
# Words that carry no topic. Wider than the keyword query's list: a missing "am" or "isn"
# says nothing about whether the documents cover the question.
STOPWORDS = frozenset(
    """
    a an the of to in on for and or is are was were be been being by with as at from that
    this these those it its i me my we our you your he she they them their what which who
    whom whose when where why how do does did can could should would may might must will
    shall there here not no any all some if then than so such about into over under up down
    out get got have has had am isn aren wasn weren don doesn didn won wouldn shouldn couldn
    cannot ve ll re let lets via please also just like make makes made way ways thing things
    something anything one use using used want need
    """.split()
)

# Placeholders stand for a name the asker leaves open ("Can you support my C compiler XXX?",
# "When will you make curl do XXXX?"): no topic, and never in the documents, so counting one
# as a term "the documents never mention" made answerable FAQ questions abstain (curl and
# ffmpeg, both halves). Only unambiguous ones: "bar" or "abc" can be real topics.
PLACEHOLDERS = frozenset("xx xxx xxxx xxxxx xyz foo foobar baz qux quux blah".split())

_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _porter() -> object:
    import Stemmer  # PyStemmer: Snowball's Porter, the same stems as SQLite FTS5's porter

    return Stemmer.Stemmer("porter")


def _fold(word: str) -> str:
    """Lower case without diacritics (FTS5 unicode61 remove_diacritics)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stems(words: Sequence[str]) -> list[str]:
    """Porter stems of folded words, as the keyword index stores them."""
    with _LOCK:  # a Stemmer object is not thread-safe
        return _porter().stemWords([_fold(w) for w in words])  # type: ignore[attr-defined]


def _term_words(question: str, limit: int = 24) -> dict[str, list[str]]:
    """The question's distinct topic stems, in order, each with the words it came from."""
    words = [w for w in _WORD_RE.findall(question.lower())
             if w not in STOPWORDS and w not in PLACEHOLDERS and 2 <= len(w) <= 64]
    out: dict[str, list[str]] = {}
    for word, stem in zip(words, stems(words), strict=True):
        if stem and len(stem) >= 2 and (stem in out or len(out) < limit):
            out.setdefault(stem, []).append(word)
    return out


def content_terms(question: str, limit: int = 24) -> list[str]:
    """The question's distinct topic words (stems), in order."""
    return list(_term_words(question, limit))


@lru_cache(maxsize=1)
def _lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """(every word of lemminflect's English lexicon, those with a noun reading).

    Read from the package's data files, the same table ``lemminflect.getAllLemmas`` looks words
    up in (its lookup table plus its overrides; tests/retrieval/test_evidence.py checks that
    the two agree). Importing lemminflect itself would import spaCy and register extensions
    on spaCy's tokens: 0.75 s and 73 MB more in every web process, for two word sets of a few
    MB. ``find_spec`` locates the package without running it.
    """
    spec = importlib.util.find_spec("lemminflect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("lemminflect is not installed (requirements.txt)")
    resources = Path(next(iter(spec.submodule_search_locations))) / "resources"
    known: set[str] = set()
    nouns: set[str] = set()
    with gzip.open(resources / "lemma_lu.csv.gz", "rt", encoding="utf-8") as fh:
        for line in fh:  # word,category,lemma[/lemma...]
            word, category, _ = line.rstrip("\n").split(",", 2)
            known.add(word)
            if category == "noun":
                nouns.add(word)
    for line in (resources / "lemma_overrides.csv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):  # word,UPOS,lemma
            word, upos, _ = line.split(",", 2)
            known.add(word.lower())
            if upos in ("NOUN", "PROPN"):
                nouns.add(word.lower())
    return frozenset(known), frozenset(nouns)


def can_name_a_thing(word: str) -> bool:
    """Whether ``word`` could name something a collection lacks.

    True for a noun, a word with a digit, or a word the English lexicon does not know (names,
    products, codes, other languages); False for words that are only verbs, adjectives or
    adverbs ("complains", "devoid").
    """
    if any(c.isdigit() for c in word):
        return True
    known, nouns = _lexicon()
    word = word.lower()
    return word not in known or word in nouns


def warm_up() -> None:
    """Load the stemmer and the lexicon now (about 0.1 s), not on the first question."""
    stems(["warm"])
    can_name_a_thing("warm")


@dataclass(frozen=True, slots=True)
class Evidence:
    """How well the retrieved passages cover a question, and whether to abstain."""

    top_score: float | None
    coverage: float
    unknown_terms: tuple[str, ...]
    p_unanswerable: float
    abstain: bool

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"top_score": self.top_score, "coverage": round(self.coverage, 4),
                "unknown_terms": list(self.unknown_terms),
                "p_unanswerable": round(self.p_unanswerable, 4), "abstain": self.abstain}


def judge(
    question: str, hits: Sequence[Hit],
    term_counts: Callable[[dict[str, list[str]]], tuple[dict[str, int], int]],
    settings: AbstentionSettings, min_score: float,
) -> Evidence:
    """The :class:`Evidence` for ``hits`` (best first) retrieved for ``question``.

    ``term_counts(terms)`` is given the question's terms (``{stem: the words it came from}``)
    and returns ``({stem: passages containing it}, passages in all)`` from the keyword index;
    an empty dict (no keyword index) leaves every term "known" and weighs the terms alike.
    """
    top = max((h.score for h in hits), default=None)
    term_words = _term_words(question)
    terms = list(term_words)
    counts, total = term_counts(term_words) if terms else ({}, 0)
    known = bool(counts) or total > 0
    unknown = tuple(t for t in terms if known and counts.get(t, 0) == 0
                    and any(can_name_a_thing(w) for w in term_words[t]))
    idf = {t: math.log((total + 1) / (counts.get(t, 0) + 0.5)) if known else 1.0 for t in terms}
    coverage = 1.0
    if terms and hits:
        best = max(hits, key=lambda h: h.score)
        present = set(stems(list(set(_WORD_RE.findall(best.text.lower())))))  # each word once
        weight = sum(idf.values()) or 1.0
        coverage = sum(w for t, w in idf.items() if t in present) / weight
    elif terms:
        coverage = 0.0
    s = settings
    z = (s.intercept + s.w_top_score * (top if top is not None else 0.0)
         + s.w_coverage * coverage + s.w_unknown * (1.0 if unknown else 0.0))
    p = 1.0 / (1.0 + math.exp(-z))
    below_floor = top is None or top < min_score
    abstain = below_floor or (s.mode == "model" and p >= s.threshold)
    return Evidence(top, coverage, unknown, p, abstain)
