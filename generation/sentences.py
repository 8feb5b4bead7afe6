"""Sentence splitting and citation markers, shared by the support check and the safety rules.

Splitting keeps character offsets (:func:`sentence_spans`) so a sentence can be traced back to
its passage; ``[n]`` markers are the citations the model writes.
"""

from __future__ import annotations

import re

_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?:[ \t]*\[\d{1,2}\])*")
_ABBREVIATIONS = frozenset(
    "e.g i.e p pp no nr dr mr mrs ms prof vs cf al approx fig figs st inc ltd co corp ca vol "
    "ch sec art dept est min max jan feb mar apr jun jul aug sep sept oct nov dec mt ft".split()
)
MARKER_RE = re.compile(r"\[(\d{1,2})\]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``; lines never share a sentence.

    A sentence ends at ``.``/``!``/``?`` (with closing quotes and trailing ``[n]`` markers)
    followed by white space and a character that is not lower case, unless the word before
    the full stop is an abbreviation or an initial (``p. 2``, ``e.g.``). Decimal numbers,
    e-mail addresses and ``[n]`` markers therefore stay inside their sentence.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for m in _END_RE.finditer(line):
            end = m.end()
            if end < len(line) and not line[end].isspace():
                continue
            rest = line[end:].lstrip()
            if rest and rest[0].islower():
                continue
            if m.group(0).startswith(".") and not m.group(0).startswith(".."):
                before = line[start:m.start()].split()
                token = before[-1].lstrip("([\"'“‘").lower() if before else ""
                if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                    continue
            _add_span(spans, line, offset, start, end)
            start = end
        _add_span(spans, line, offset, start, len(line))
        offset += len(line) + 1
    return spans


def _add_span(spans: list[tuple[int, int]], line: str, offset: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped = piece.strip()
    if not any(ch.isalnum() for ch in stripped):
        return
    lead = len(piece) - len(piece.lstrip())
    spans.append((offset + start + lead, offset + start + lead + len(stripped)))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def markers(sentence: str) -> list[int]:
    """The ``[n]`` numbers of a sentence, in order, without repeats."""
    return list(dict.fromkeys(int(m) for m in MARKER_RE.findall(sentence)))


def strip_markers(sentence: str) -> str:
    """The sentence without ``[n]`` markers."""
    return " ".join(MARKER_RE.sub(" ", sentence).split())


# -- numbers, names, content words ---------------------------------------------------------
