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

The model's draft streams as it is written and is checked as it grows (:mod:`generation.draft`):
in auto mode generation stops as soon as the draft can no longer pass the check, so no time
is spent writing text the quotes will replace, and when the model's recent drafts over the
same collections were nearly all replaced it is not asked at all. The events say what is
happening (:class:`~generation.events.StateEvent`) and the done event says what became of the
draft (``Answer.draft``: kept, replaced, or skipped). Closing the event stream (the reader
stopped, or went away) closes the model's stream, which stops generation.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any

from config.settings import Settings
from generation.draft import DraftRecord, DraftWatch
from generation.events import (
    AnswerStream,
    DoneEvent,
    SourcesEvent,
    StateEvent,
    TokenEvent,
    final_answer,
)
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
from generation.types import Answer, Citation, Generator, ModelInfo, Sentence
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
        gen = settings.generation
        #: the model's recent drafts per scope: when it may be skipped (generation/draft.py)
        self._record = DraftRecord(gen.draft_history, gen.skip_model_below,
                                   gen.draft_probe_every)

    def remember_drafts(self, earlier: Callable[[Hashable], Sequence[bool]]) -> None:
        """Start each scope's draft record from ``earlier(scope)``.

        ``earlier`` gives the outcomes (kept = True, oldest first) of this model's drafts over
        the scope recorded before this process (the services read them from the answer
        records). Call before the first answer.
        """
        self._record.earlier = earlier

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

    def model_info(self, *, hash_now: bool = True) -> ModelInfo:
        """The answering model's preset, file, size, SHA-256, licence and backend.

        ``hash_now`` False never reads the model file to hash it (only a known hash is
        given). A generator that does not describe itself is named only.
        """
        describe = getattr(self._generator, "model_info", None)
        if describe is not None:
            info: ModelInfo = describe(hash_now=hash_now)
            return info
        return ModelInfo(name=self.model_name, title=self.model_name, backend="other")

    def stream(self, question: str, collection: str | Sequence[str], k: int | None = None, *,
               principal: Principal | None = None,
               query: str | None = None) -> AnswerStream:
        """Yield ``sources``, then ``token`` events, then one ``done`` event with the answer.

        ``state`` events come first (``searching``) and between them (see
        :mod:`generation.events`).

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
        yield StateEvent("searching")
        hits = self._retriever.search(question, collection, k or self._settings.retrieval.top_k,
                                      principal=principal)
        evidence = self._retriever.assess(question, hits)
        relevant = [] if evidence.abstain else [
            h for h in hits if h.score >= self._settings.retrieval.min_score][: gen.max_sources]
        yield SourcesEvent(relevant or hits, evidence, search_query)
        scope = collection if isinstance(collection, str) else tuple(sorted(collection))
        with closing(self._answer(question, hits, relevant, scope)) as events:
            for event in events:
                if isinstance(event, DoneEvent):
                    event = replace(event, answer=replace(event.answer, question=asked),
                                    search_query=search_query)
                yield event

    def _answer(self, question: str, hits: list[Hit], relevant: list[Hit],
                scope: Hashable) -> AnswerStream:
        gen = self._settings.generation
        mode = "extractive" if gen.mode == "extractive" else "generative"
        if not relevant:
            answer = Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                            model=self.model_name, mode=mode)
            yield StateEvent("no_evidence")
            yield TokenEvent(NOT_FOUND_ANSWER)
            yield DoneEvent(answer)
            return

        if gen.mode == "extractive":
            answer = self.extractive(question, relevant)
            if answer.abstained:
                yield StateEvent("no_evidence")
            yield TokenEvent(answer.answer)
            yield DoneEvent(answer)
            return

        if gen.mode == "auto" and not self._record.should_draft(scope):
            # the model's recent drafts here were nearly all replaced: quote at once
            quotes = self.extractive(question, relevant)
            if not quotes.abstained:
                yield TokenEvent(quotes.answer)
                yield DoneEvent(replace(quotes, draft="skipped"))
                return

        messages = build_messages(question, relevant, gen.max_source_chars,
                                  gen.filter_source_instructions, gen.max_source_tokens,
                                  getattr(self._generator, "count_tokens", None))
        watch = self.draft_watch(question, relevant)
        pieces: list[str] = []
        yield StateEvent("writing")
        # closing the model's stream stops generation: when the draft can no longer pass
        # (the watch says stop), and when this generator is closed (the reader stopped)
        draft = self._generator.stream(messages, gen.max_tokens, gen.temperature)
        try:
            for piece in draft:
                pieces.append(piece)
                yield TokenEvent(piece)
                if watch.feed("".join(pieces)):
                    break
        finally:
            _close(draft)
        yield StateEvent("checking")
        answer = self.finish(question, watch.text if watch.reason else "".join(pieces),
                             relevant)
        if gen.mode == "auto" and not answer.abstained:
            self._record.add(scope, answer.draft == "kept")
        if answer.abstained:
            yield StateEvent("no_evidence")
        yield DoneEvent(answer)

    def draft_watch(self, question: str, hits: list[Hit]) -> DraftWatch:
        """The watch that stops a draft early (:mod:`generation.draft`) under the settings."""
        gen = self._settings.generation

        def check(draft: str) -> list[Sentence] | None:
            checked = self.check_draft(question, draft, hits)
            return None if checked is None else checked[1]

        return DraftWatch(check, gen.early_stop_sentences if gen.mode == "auto" else 0,
                          gen.max_sentences, gen.auto_min_supported)

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

    def check_draft(self, question: str, raw: str, hits: list[Any]
                    ) -> tuple[str, list[Sentence], str] | None:
        """The model's raw text after the safety rules, with its checked sentences.

        Returns the text (unsupported sentences dropped under ``generation.unsupported:
        drop``, prompt echoes and injected sentences always), its sentences, and who numbered
        its citations (``model`` or ``overlap``); None when the text says the documents do
        not answer (or nothing is left of it).
        """
        gen = self._settings.generation
        text, _removed = sanitize_answer(raw.strip())
        text = strip_invalid_markers(text, len(hits)).strip()
        if not text or NOT_FOUND_ANSWER.lower().rstrip(".") in text.lower():
            return None
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
        return text, sentences, attributed_by

    def finish(self, question: str, raw: str, hits: list[Any]) -> Answer:
        """Turn the model's raw text into a checked :class:`Answer` with citations."""
        gen = self._settings.generation
        checked = self.check_draft(question, raw, hits)
        if checked is None:
            return Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                          model=self.model_name, draft="kept")
        text, sentences, attributed_by = checked
        if gen.mode == "auto" and (not sentences
                                   or supported_share(sentences) < gen.auto_min_supported):
            fallback = self.extractive(question, hits)
            if not fallback.abstained:
                return replace(fallback, draft="replaced")
        if not sentences:
            return Answer(question, UNVERIFIED_ANSWER, [], hits, abstained=False,
                          model=self.model_name, sentences=[], draft="replaced")
        citations = _with_spans(extract_citations(text, hits, attributed_by), sentences, hits)
        return Answer(question, text, citations, hits, abstained=False, model=self.model_name,
                      sentences=sentences, draft="kept")

    def ask(self, question: str, collection: str, k: int | None = None, *,
            principal: Principal | None = None) -> Answer:
        """Answer without streaming."""
        return final_answer(self.stream(question, collection, k, principal=principal)).answer


def _close(stream: Iterator[str]) -> None:
    """Close a model's stream now (a generator stops where it is; its model stops writing)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


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
