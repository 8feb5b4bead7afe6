"""Where a passage matches a query's words: the text cut into matched and unmatched pieces.

A word matches when its Porter stem is one of the query's content stems
(:func:`retrieval.evidence.content_terms`), as the keyword index matches them: "allowances"
marks "allowance". The pieces are plain text; whoever renders them escapes them (the search
page puts matched pieces in ``<mark>``).
"""

from __future__ import annotations

import re

from retrieval.evidence import content_terms, stems

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)


def query_stems(query: str) -> frozenset[str]:
    """The stems a passage's words are matched against."""
    return frozenset(content_terms(query))


def highlight(text: str, query: str | frozenset[str]) -> list[tuple[str, bool]]:
    """``text`` as ``(piece, matched)`` pairs, in order; joined they give ``text`` back."""
    wanted = query_stems(query) if isinstance(query, str) else query
    words = list(_WORD_RE.finditer(text))
    if not wanted or not words:
        return [(text, False)] if text else []
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for match, stem in zip(words, stems([m.group() for m in words]), strict=True):
        if stem not in wanted:
            continue
        if match.start() > pos:
            pieces.append((text[pos:match.start()], False))
        pieces.append((match.group(), True))
        pos = match.end()
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces
