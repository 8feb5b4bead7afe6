"""Question -> retrieval -> prompt -> streamed answer -> citations.

When no passage reaches ``retrieval.min_score`` the model is not asked at all: the answer
says the documents do not contain it and the closest passages are returned as sources.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from config.settings import Settings
from generation.prompt import (
    NOT_FOUND_ANSWER,
    attribute_unmarked,
    build_messages,
    extract_citations,
    strip_invalid_markers,
)
from generation.types import Answer, Generator
from retrieval.retriever import Retriever

Event = dict[str, Any]


class Answerer:
    """Answers questions over one collection with a :class:`Generator`."""

    def __init__(self, settings: Settings, retriever: Retriever, generator: Generator) -> None:
        self._settings = settings
        self._retriever = retriever
        self._generator = generator

    @property
    def model_name(self) -> str:
        """The answering model's name."""
        return self._generator.model_name

    def stream(self, question: str, collection: str, k: int | None = None) -> Iterator[Event]:
        """Yield ``sources``, then ``token`` events, then one ``done`` event with the answer."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        hits = self._retriever.search(question, collection, k or self._settings.retrieval.top_k)
        relevant = [h for h in hits if h.score >= self._settings.retrieval.min_score]
        relevant = relevant[: self._settings.generation.max_sources]
        yield {"event": "sources", "sources": [h.to_dict() for h in relevant or hits]}
        if not relevant:
            answer = Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                            model=self.model_name)
            yield {"event": "token", "text": NOT_FOUND_ANSWER}
            yield {"event": "done", **answer.to_dict()}
            return

        gen = self._settings.generation
        messages = build_messages(question, relevant, gen.max_source_chars)
        pieces: list[str] = []
        for piece in self._generator.stream(messages, gen.max_tokens, gen.temperature):
            pieces.append(piece)
            yield {"event": "token", "text": piece}
        yield {"event": "done", **self.finish(question, "".join(pieces), relevant).to_dict()}

    def finish(self, question: str, raw: str, hits: list[Any]) -> Answer:
        """Turn the model's raw text into an :class:`Answer` with citations."""
        text = strip_invalid_markers(raw.strip(), len(hits))
        if not text or NOT_FOUND_ANSWER.lower().rstrip(".") in text.lower():
            return Answer(question, NOT_FOUND_ANSWER, [], hits, abstained=True,
                          model=self.model_name)
        citations = extract_citations(text, hits, attributed_by="model")
        if not citations:
            text = attribute_unmarked(text, hits)
            citations = extract_citations(text, hits, attributed_by="overlap")
        return Answer(question, text, citations, hits, abstained=False, model=self.model_name)

    def ask(self, question: str, collection: str, k: int | None = None) -> Answer:
        """Answer without streaming."""
        done: Event = {}
        for event in self.stream(question, collection, k):
            if event["event"] == "done":
                done = event
        return answer_from_event(done)


def answer_from_event(event: Event) -> Answer:
    """Rebuild an :class:`Answer` from a ``done`` event."""
    from generation.types import Citation
    from retrieval.types import Hit

    return Answer(
        question=event["question"],
        answer=event["answer"],
        citations=[Citation(**c) for c in event["citations"]],
        sources=[Hit(**s) for s in event["sources"]],
        abstained=event["abstained"],
        model=event["model"],
    )
