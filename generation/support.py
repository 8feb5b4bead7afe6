"""Sentence-level citations and support checking.

The answer is split into sentences, each keeping its ``[n]`` markers. For every (sentence,
cited passage) pair the passage is split into sentences too, and every window of one or two
consecutive passage sentences is scored against the answer sentence:

    support = w * cosine(embedding(sentence), embedding(window)) + (1 - w) * overlap

where ``overlap`` is the share of the sentence's content words (crudely stemmed) found in the
window and ``w`` is ``generation.support_embedding_weight``. A window only counts when every
number of the sentence appears in it exactly (``EUR 50`` is not supported by ``EUR 45``;
``0.30`` and ``0.3`` are the same number) and every name the sentence uses (a capitalised word
after its first) appears in the passage. The best window is the supporting span, reported as
character offsets into the chunk text (add the hit's ``char_start`` for document offsets).

A sentence is supported when one cited passage supports it with a score of at least
``generation.support_threshold``. A sentence without citations is a *claim* when it contains
numbers or names, and then it is unsupported (flagged) too: uncited facts cannot be verified.
Without an embedder the score is the overlap alone.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from generation.safety import contains_terms, injected_terms, is_instruction, reveals_prompt
from generation.sentences import MARKER_RE, markers, sentence_spans, strip_markers
from generation.types import Sentence, SupportSpan
from retrieval.types import Hit

# -- numbers and content words ------------------------------------------------------------
_NUMBER_RE = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
}
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’.@-][^\W_]+)*")
STOP_WORDS = frozenset(
    "a an the of to in on for and or is are was were be been being by with as at from that "
    "this these those it its your you we our their they there what which who whom whose when "
    "where why how do does did can could may might must should would will shall not no any "
    "all per if than then so such also only just about into over under up out has have had "
    "i me my he she his her him them us very more most much many some each every other "
    "answer answers question questions source sources according document documents passage "
    "text says said state states stated get gets got".split()
)


def _norm_number(raw: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    else:
        raw = raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return raw
    text = format(value.normalize(), "f")
    return text


def numbers(text: str) -> set[str]:
    """Normalised numbers in ``text`` (digits and number words; ``[n]`` markers ignored)."""
    text = MARKER_RE.sub(" ", text)
    found = {_norm_number(m.group(0).rstrip(".,")) for m in _NUMBER_RE.finditer(text)}
    for word in _TOKEN_RE.findall(text.lower()):
        if word in _NUMBER_WORDS:
            found.add(str(_NUMBER_WORDS[word]))
    return found


def _stem(word: str) -> str:
    word = word.lower().strip(".'’-")
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def content_stems(text: str) -> set[str]:
    """Crudely stemmed content words (stop words and number words dropped; digits kept)."""
    text = MARKER_RE.sub(" ", text)
    out = set()
    for token in _TOKEN_RE.findall(text):
        low = token.lower()
        if low in STOP_WORDS or low in _NUMBER_WORDS:
            continue
        if any(ch.isdigit() for ch in low):
            out.update(numbers(token) or {low})
            continue
        out.add(_stem(low))
    out.discard("")
    return out


def names(text: str) -> set[str]:
    """Lower-cased names in ``text``: capitalised or upper-case words other than the first."""
    tokens = _TOKEN_RE.findall(MARKER_RE.sub(" ", text))
    found = set()
    for i, token in enumerate(tokens):
        if token.lower() in STOP_WORDS or token.lower() in _NUMBER_WORDS:
            continue
        if any(ch.isdigit() for ch in token):
            continue
        upper = token.isupper() and len(token) > 1
        capital = token[:1].isupper() and i > 0 and token != "I"
        if upper or capital or "@" in token:
            found.add(token.lower())
    return found


def is_claim(sentence: str) -> bool:
    """True when the sentence states something checkable (numbers or names)."""
    return bool(numbers(sentence) or names(sentence))


def lexical_overlap(claim: set[str], evidence: set[str]) -> float:
    """Share of ``claim``'s stems present in ``evidence`` (0 when the claim has none)."""
    return len(claim & evidence) / len(claim) if claim else 0.0


# -- passage windows -----------------------------------------------------------------------
@dataclass
class Window:
    """One or two consecutive sentences of a passage."""

    start: int
    end: int
    text: str
    stems: set[str]
    numbers: set[str]
    instruction: bool = False
    vector: np.ndarray | None = None
    size: int = 1  # sentences in the window
    #: Table rows of the window: (stems of the row's first cell, the row's numbers).
    rows: list[tuple[set[str], set[str]]] = field(default_factory=list)

    def numbers_named(self, claim_numbers: set[str], claim_stems: set[str]) -> bool:
        """Every number the claim takes from a table row comes with the row's name.

        A table cell is read by its row and column: "the meal allowance is EUR 10" is not
        supported by the Breakfast row's EUR 10 unless the claim names breakfast. A number
        also found outside the window's table rows needs no row name.
        """
        if not self.rows:
            return True
        prose = numbers(" ".join(line for line in self.text.split("\n")
                                 if not line.lstrip().startswith("|")))
        for number in claim_numbers - prose:
            holders = [label for label, found in self.rows if number in found]
            if holders and not any(label & claim_stems for label in holders):
                return False
        return True


@dataclass
class PassageIndex:
    """A passage's sentences and windows, embedded once per answer."""

    hit: Hit
    windows: list[Window]
    names: set[str]
    sentences: list[tuple[int, int]] = field(default_factory=list)


def index_passage(hit: Hit) -> PassageIndex:
    """Windows of one and two consecutive sentences of ``hit.text``."""
    text = hit.text
    spans = sentence_spans(text)
    windows = []
    for i, (start, _end) in enumerate(spans):
        for j in (i, i + 1):
            if j >= len(spans):
                continue
            w_end = spans[j][1]
            piece = text[start:w_end]
            windows.append(Window(
                start, w_end, piece, content_stems(piece), numbers(piece),
                instruction=any(is_instruction(text[s:e]) for s, e in spans[i:j + 1]),
                size=j - i + 1, rows=_table_rows(piece),
            ))
    return PassageIndex(hit, windows, {t.lower() for t in _TOKEN_RE.findall(text)}, spans)


def _table_rows(piece: str) -> list[tuple[set[str], set[str]]]:
    """(first-cell stems, numbers) of each Markdown table row of ``piece`` with a number."""
    rows = []
    for line in piece.split("\n"):
        cells = line.strip().strip("|").split("|")
        if line.lstrip().startswith("|") and len(cells) > 1:
            found = numbers(line)
            if found:
                rows.append((content_stems(cells[0]) - found, found))
    return rows


_CACHE_SIZE = 20_000
_CACHE_LOCK = threading.Lock()
_CACHES: weakref.WeakKeyDictionary[Any, OrderedDict[str, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def embed(embedder: Any, texts: Sequence[str]) -> np.ndarray | None:
    """Unit vectors for ``texts`` as passages (None without an embedder).

    Passage sentences recur across questions, so vectors are kept in a per-embedder LRU
    cache of :data:`_CACHE_SIZE` texts (white space normalised).
    """
    if embedder is None or not texts:
        return None
    norm = [" ".join(t.split()) for t in texts]
    found: dict[str, np.ndarray] = {}
    with _CACHE_LOCK:
        try:
            cache = _CACHES.setdefault(embedder, OrderedDict())
        except TypeError:  # not weak-referenceable: no cache
            cache = OrderedDict()
        for t in norm:
            if t in cache:
                cache.move_to_end(t)
                found[t] = cache[t]
    missing = [t for t in dict.fromkeys(norm) if t not in found]
    if missing:
        vectors = np.asarray(embedder.embed_documents(missing))
        with _CACHE_LOCK:
            for t, v in zip(missing, vectors, strict=True):
                found[t] = cache[t] = v
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
    return np.stack([found[t] for t in norm])


# -- checking ------------------------------------------------------------------------------
@dataclass
class Checked:
    """A sentence with its support verdict and why it must go whatever the mode says."""

    sentence: Sentence
    remove_reason: str | None = None  # "prompt-echo" or "injected" (always removed)
    best_scores: dict[int, float] = field(default_factory=dict)


@dataclass
class SupportChecker:
    """Scores answer sentences against the passages they cite."""

    embedder: Any = None
    threshold: float = 0.6
    embedding_weight: float = 0.5

    def score(self, sentence: str, vector: np.ndarray | None, passage: PassageIndex
              ) -> tuple[float, Window | None, bool]:
        """Best ``(score, window, numbers_and_names_ok)`` of a passage for a sentence."""
        claim_stems = content_stems(sentence)
        claim_numbers = numbers(sentence)
        names_ok = names(sentence) <= passage.names
        w = self.embedding_weight
        best: tuple[float, Window | None, bool] = (0.0, None, False)
        best_key: tuple[bool, float, int] = (False, -1.0, 0)
        contradicted = _contradicted(claim_stems - claim_numbers, claim_numbers,
                                     passage.windows)
        for window in passage.windows:
            lex = lexical_overlap(claim_stems, window.stems)
            if vector is not None and window.vector is not None:
                s = w * max(float(window.vector @ vector), 0.0) + (1 - w) * lex
            else:  # no embedder (or a passage nothing cites): word overlap alone
                s = lex
            ok = (claim_numbers <= window.numbers and names_ok and not window.instruction
                  and not contradicted and window.numbers_named(claim_numbers, claim_stems))
            # a window satisfying the hard rules beats any window that does not; on equal
            # scores the shorter span is the more exact one
            key = (ok, round(s, 6), -window.size)
            if key > best_key:
                best, best_key = (s, window, ok), key
        return best

    def check(self, answer: str, hits: Sequence[Hit], question: str = "",
              system_prompt: str = "") -> list[Checked]:
        """Support verdicts for every sentence of ``answer`` (citing ``hits`` as ``[1]``...)."""
        spans = sentence_spans(answer)
        if not spans:
            return []
        passages = [index_passage(h) for h in hits]
        cited_anywhere = {n for s, e in spans for n in markers(answer[s:e])
                          if 1 <= n <= len(hits)}
        # only the cited passages are compared by embedding
        all_windows = [w for n in sorted(cited_anywhere) for w in passages[n - 1].windows]
        texts = [strip_markers(answer[s:e]) for s, e in spans]
        vectors = embed(self.embedder, texts + [w.text for w in all_windows])
        if vectors is not None:
            for i, window in enumerate(all_windows):
                window.vector = vectors[len(texts) + i]
        injected = injected_terms([h.text for h in hits], question)
        out = []
        for i, (start, end) in enumerate(spans):
            raw = answer[start:end]
            text = texts[i]
            vector = vectors[i] if vectors is not None else None
            cited = [n for n in markers(raw) if 1 <= n <= len(hits)]
            claim = bool(cited) or is_claim(text)
            best_scores: dict[int, float] = {}
            support_spans: list[SupportSpan] = []
            best_score: float | None = None
            supported = not claim
            # an uncited claim is unsupported; its score (word overlap with the closest
            # passage) is only informative
            targets = cited or (list(range(1, len(hits) + 1)) if claim else [])
            for n in targets:
                s, window, ok = self.score(text, vector, passages[n - 1])
                best_scores[n] = s
                best_score = s if best_score is None else max(best_score, s)
                if cited and ok and window is not None and s >= self.threshold:
                    supported = True
                    support_spans.append(SupportSpan(n, hits[n - 1].chunk_id,
                                                     window.start, window.end))
            if support_spans:
                # the strongest support first
                support_spans.sort(key=lambda sp: -best_scores[sp.n])
            reason = None
            if system_prompt and reveals_prompt(text, system_prompt):
                reason = "prompt-echo"
            elif contains_terms(text, injected):
                reason = "injected"
            if reason:
                supported = False
                support_spans = []
            out.append(Checked(
                Sentence(raw, cited, supported, best_score, support_spans, start, end, claim),
                reason, best_scores,
            ))
        return out


def _contradicted(words: set[str], claim_numbers: set[str], windows: Sequence[Window]) -> bool:
    """Whether the passage says the claim with other numbers.

    The passage sentence sharing most of the claim's words (at least
    ``_CONTRADICTION_OVERLAP`` of them) states numbers, none of them the claim's: "the daily
    meal allowance for domestic trips is EUR 10" against "The daily meal allowance is EUR 45
    for domestic trips" is contradicted, whatever table cell elsewhere holds a 10.
    """
    if not claim_numbers or not words:
        return False
    singles = [wd for wd in windows if wd.size == 1 and wd.numbers]
    if not singles:
        return False
    closest = max(singles, key=lambda wd: (lexical_overlap(words, wd.stems), -len(wd.text)))
    return (lexical_overlap(words, closest.stems) >= _CONTRADICTION_OVERLAP
            and not claim_numbers & closest.numbers)


_CONTRADICTION_OVERLAP = 0.8


def supported_share(sentences: Sequence[Sentence]) -> float:
    """Share of sentences backed by a cited passage (1.0 for an empty answer)."""
    if not sentences:
        return 1.0
    return sum(bool(s.citations) and s.supported for s in sentences) / len(sentences)


def remove_sentences(answer: str, checked: Sequence[Checked], drop: set[int]
                     ) -> tuple[str, list[Sentence]]:
    """``answer`` without the sentences at indexes ``drop``; offsets of the rest updated."""
    if not drop:
        return answer, [c.sentence for c in checked]
    pieces, last = [], 0
    for i, c in enumerate(checked):
        if i in drop:
            pieces.append(answer[last:c.sentence.start])
            last = c.sentence.end
            while last < len(answer) and answer[last] in " \t":
                last += 1  # the space that separated it from the next sentence
    pieces.append(answer[last:])
    text = re.sub(r"\n{3,}", "\n\n", "".join(pieces)).strip()
    kept, pos = [], 0
    for i, c in enumerate(checked):
        if i in drop:
            continue
        at = text.find(c.sentence.text, pos)
        if at < 0:  # pragma: no cover - whitespace inside a sentence never changes
            at = pos
        s = c.sentence
        kept.append(Sentence(s.text, s.citations, s.supported, s.support_score, s.spans,
                             at, at + len(s.text), s.claim))
        pos = at + len(s.text)
    return text, kept
