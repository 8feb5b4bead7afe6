"""Question -> retrieval -> prompt -> streamed answer -> verified, cited answer.

When the retrieved passages do not answer the question (:mod:`retrieval.evidence`: below
``retrieval.min_score``, or judged unanswerable by ``retrieval.abstention``) the model is not
asked at all: the answer says the documents do not contain it and the closest passages are
returned as sources.

Every finished answer is checked sentence by sentence against the passages it cites
(:mod:`generation.support`): unsupported sentences are flagged or dropped
(``generation.unsupported``), links and images are removed, and sentences that repeat the
system prompt or a hidden instruction of a passage are always removed. ``generation.mode``
chooses between the model's answer (``generative``), quoted passage sentences
(``extractive``, no model call) and ``auto``: generative, replaced by the extractive answer
when too few generated sentences are supported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from config.settings import Settings
from generation.events import AnswerEvent, DoneEvent, SourcesEvent, TokenEvent, final_answer
from generation.extractive import extractive_answer
from generation.prompt import (
    NOT_FOUND_ANSWER,
    SYSTEM_PROMPT,
    attribute_unmarked,
    build_messages,
    extract_citations,
    strip_invalid_markers,
)
from generation.safety import sanitize_answer
from generation.support import SupportChecker, remove_sentences, supported_share
from generation.types import Answer, Citation, Generator, Sentence
from retrieval.acl import Principal
from retrieval.retriever import Retriever
from retrieval.types import Embedder, Hit

UNVERIFIED_ANSWER = "No sentence of the generated answer could be verified against its sources."


class Answerer:
    """Answers questions over one collection with a :class:`Generator`.

    ``embedder`` (the retrieval stack's sentence-transformers model) scores support; without
    one, support is judged on word overlap alone.
    """

    def __init__(self, settings: Settings, retriever: Retriever, generator: Generator,
                 embedder: Embedder | None = None) -> None:
        self._settings = settings
        self._retriever = retriever
        self._generator = generator
        self._embedder = embedder

    def warm_up(self) -> None:
        """Load the answering model now (when it runs in-process) instead of on first use."""
        warm = getattr(self._generator, "warm_up", None)
        if warm is not None:
            warm()

    @property
    def model_name(self) -> str:
        """The answering model's name."""
        return self._generator.model_name

    @property
    def generator(self) -> Generator:
        """The answering model (the follow-up rewrite may use it too)."""
        return self._generator

    @property
    def model_path(self) -> str | None:
        """The answering model's file, when it runs in-process (None for a remote server)."""
        path = getattr(self._generator, "model_path", None)
        return str(path) if path else None

    def stream(self, question: str, collection: str, k: int | None = None, *,
               principal: Principal | None = None,
               query: str | None = None) -> Iterator[AnswerEvent]:
        """Yield ``sources``, then ``token`` events, then one ``done`` event with the answer.

        With a ``principal`` only passages of documents it may read are retrieved (the web
        app always passes one; trusted local callers such as the CLI may not). ``query`` is
        the standalone form of a follow-up question (generation/followup.py): it is searched
        and answered instead of ``question``, and both events carry it as ``search_query``.
        """
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        asked = question
        search_query = query.strip() if query and query.strip() != question else None
        question = search_query or question
        gen = self._settings.generation
        hits = self._retriever.search(question, collection, k or self._settings.retrieval.top_k,
                                      principal=principal)
        evidence = self._retriever.assess(question, hits)
        relevant = [] if evidence.abstain else [
            h for h in hits if h.score >= self._settings.retrieval.min_score][: gen.max_sources]
        yield SourcesEvent(relevant or hits, evidence, search_query)
        for event in self._answer(question, hits, relevant):
            if isinstance(event, DoneEvent):
                event = replace(event, answer=replace(event.answer, question=asked),
                                search_query=search_query)
            yield event

    def _answer(self, question: str, hits: list[Hit], relevant: list[Hit]
                ) -> Iterator[AnswerEvent]:
        gen = self._settings.generation
        mode = "extractive" if gen.mode == "extractive" else "generative"
        if not relevant:
            answer = Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                            model=self.model_name, mode=mode)
            yield TokenEvent(NOT_FOUND_ANSWER)
            yield DoneEvent(answer)
            return

        if gen.mode == "extractive":
            answer = self.extractive(question, relevant)
            yield TokenEvent(answer.answer)
            yield DoneEvent(answer)
            return

        messages = build_messages(question, relevant, gen.max_source_chars,
                                  gen.filter_source_instructions)
        pieces: list[str] = []
        for piece in self._generator.stream(messages, gen.max_tokens, gen.temperature):
            pieces.append(piece)
            yield TokenEvent(piece)
        yield DoneEvent(self.finish(question, "".join(pieces), relevant))

    def extractive(self, question: str, hits: list[Hit]) -> Answer:
        """The answer quoted from the passages (abstains when none has a quotable sentence)."""
        gen = self._settings.generation
        built = extractive_answer(question, hits, self._embedder, gen.extractive_sentences,
                                  gen.support_embedding_weight)
        if built is None:
            return Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                          model=self.model_name, mode="extractive")
        text, citations, sentences = built
        return Answer(question, text, citations, hits, abstained=False, model=self.model_name,
                      sentences=sentences, mode="extractive")

    def finish(self, question: str, raw: str, hits: list[Any]) -> Answer:
        """Turn the model's raw text into a checked :class:`Answer` with citations."""
        gen = self._settings.generation
        text, _removed = sanitize_answer(raw.strip())
        text = strip_invalid_markers(text, len(hits)).strip()
        if not text or NOT_FOUND_ANSWER.lower().rstrip(".") in text.lower():
            return Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                          model=self.model_name)
        attributed_by = "model"
        if not extract_citations(text, hits):
            text = attribute_unmarked(text, hits)
            attributed_by = "overlap"

        checker = SupportChecker(self._embedder, gen.support_threshold,
                                 gen.support_embedding_weight)
        checked = checker.check(text, hits, question, SYSTEM_PROMPT)
        drop = {i for i, c in enumerate(checked) if c.remove_reason}
        if gen.unsupported == "drop":
            drop |= {i for i, c in enumerate(checked) if not c.sentence.supported}
        text, sentences = remove_sentences(text, checked, drop)

        if gen.mode == "auto" and (not sentences
                                   or supported_share(sentences) < gen.auto_min_supported):
            fallback = self.extractive(question, hits)
            if not fallback.abstained:
                return fallback
        if not sentences:
            return Answer(question, UNVERIFIED_ANSWER, [], hits, abstained=False,
                          model=self.model_name, sentences=[])
        citations = _with_spans(extract_citations(text, hits, attributed_by), sentences, hits)
        return Answer(question, text, citations, hits, abstained=False, model=self.model_name,
                      sentences=sentences)

    def ask(self, question: str, collection: str, k: int | None = None, *,
            principal: Principal | None = None) -> Answer:
        """Answer without streaming."""
        return final_answer(self.stream(question, collection, k, principal=principal)).answer


def _with_spans(citations: list[Citation], sentences: list[Sentence], hits: list[Hit]
                ) -> list[Citation]:
    """Each citation with the span that best supports a sentence citing it (quote = span)."""
    best: dict[int, tuple[float, int, int]] = {}
    for sentence in sentences:
        if not sentence.supported:
            continue
        for span in sentence.spans:
            score = sentence.support_score or 0.0
            if span.n not in best or score > best[span.n][0]:
                best[span.n] = (score, span.start, span.end)
    out = []
    for c in citations:
        if c.n in best:
            _, start, end = best[c.n]
            quote = " ".join(hits[c.n - 1].text[start:end].split())
            c = replace(c, span_start=start, span_end=end, quote=quote)
        out.append(c)
    return out
