"""Extractive answers: quote the passage sentences that best answer the question.

Every sentence of every passage (instruction-like sentences and fragments under four words
excepted) is scored against the question:

    score = w * cosine(question, sentence) + (1 - w) * share of question words in the sentence

(``w`` = ``generation.support_embedding_weight``). The best sentence is quoted verbatim with
its document, page and ``[n]``; up to ``generation.extractive_sentences`` follow when they
score within :data:`SECOND_RATIO` of the best. Quotes are exact chunk text, so each is its own
supporting span.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from generation.safety import is_instruction
from generation.sentences import sentence_spans
from generation.support import content_stems, embed, lexical_overlap
from generation.types import Citation, Sentence, SupportSpan
from retrieval.types import Hit

SECOND_RATIO = 0.85
MIN_WORDS = 4


def _candidates(hits: Sequence[Hit]) -> list[tuple[int, int, int]]:
    """``(hit index, start, end)`` of each quotable sentence."""
    out = []
    for i, hit in enumerate(hits):
        for start, end in sentence_spans(hit.text):
            sentence = hit.text[start:end]
            words = sentence.split()
            if len(words) < MIN_WORDS or is_instruction(sentence):
                continue
            if sentence.rstrip()[-1:] not in ".!?\"'”)" and len(words) < 8:
                continue  # a heading or a table cell
            out.append((i, start, end))
    return out


def where(hit: Hit) -> str:
    """``document (p. N)`` or ``document``."""
    return f"{hit.document} (p. {hit.page})" if hit.page else hit.document


def extractive_answer(
    question: str, hits: Sequence[Hit], embedder: Any = None, max_sentences: int = 2,
    embedding_weight: float = 0.5,
) -> tuple[str, list[Citation], list[Sentence]] | None:
    """Quoted answer text, its citations and sentences; None when no passage has a sentence."""
    candidates = _candidates(hits)
    if not candidates:
        return None
    texts = [hits[i].text[s:e] for i, s, e in candidates]
    question_stems = content_stems(question)
    w = embedding_weight if embedder is not None else 0.0
    cosines = [0.0] * len(texts)
    if embedder is not None:
        vectors = embed(embedder, texts)
        query = embedder.embed_query(" ".join(question.split()))
        cosines = [float(v @ query) for v in vectors] if vectors is not None else cosines
    scores = [
        w * max(cosines[k], 0.0) + (1 - w) * lexical_overlap(question_stems, content_stems(t))
        # a tiny preference for better-ranked passages breaks ties
        - 0.001 * candidates[k][0]
        for k, t in enumerate(texts)
    ]
    order = sorted(range(len(texts)), key=lambda k: -scores[k])
    chosen = [order[0]]
    for k in order[1:]:
        if len(chosen) >= max_sentences or scores[k] < SECOND_RATIO * scores[order[0]]:
            break
        if texts[k] not in {texts[c] for c in chosen}:
            chosen.append(k)

    parts: list[str] = []
    sentences: list[Sentence] = []
    spans_by_n: dict[int, tuple[int, int, str]] = {}
    pos = 0
    for k in chosen:
        i, start, end = candidates[k]
        hit, n = hits[i], i + 1
        quote = " ".join(texts[k].split())
        part = f'According to {where(hit)}: "{quote}" [{n}]'
        if parts:
            pos += 1
        sentences.append(Sentence(part, [n], True, round(scores[k], 4),
                                  [SupportSpan(n, hit.chunk_id, start, end)], pos,
                                  pos + len(part), True))
        parts.append(part)
        pos += len(part)
        spans_by_n.setdefault(n, (start, end, texts[k]))
    citations = [
        Citation(
            n=n, chunk_id=hits[n - 1].chunk_id, document=hits[n - 1].document,
            document_id=hits[n - 1].document_id, page=hits[n - 1].page,
            heading_path=hits[n - 1].heading_path, quote=quote, text=hits[n - 1].text,
            score=hits[n - 1].score, attributed_by="extractive", span_start=start,
            span_end=end, char_start=hits[n - 1].char_start,
        )
        for n, (start, end, quote) in sorted(spans_by_n.items())
    ]
    return " ".join(parts), citations, sentences
