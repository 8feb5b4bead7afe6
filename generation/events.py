"""The events of an answer as it is made, typed: what generation hands to the web app.

``Answerer.stream`` yields one :class:`SourcesEvent` (the passages, and the evidence judgement
that decided whether the model is asked at all), then :class:`TokenEvent` pieces, then one
:class:`DoneEvent` with the checked :class:`~generation.types.Answer`. ``to_dict`` is the wire
form of each (server-sent events and JSON replies).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from generation.types import Answer
from retrieval.evidence import Evidence
from retrieval.types import Hit


@dataclass(frozen=True, slots=True)
class SourcesEvent:
    """The passages the answer is written from (or the closest ones, when it abstains)."""

    sources: list[Hit]
    evidence: Evidence | None = None
    #: The standalone query a follow-up was searched with (None: searched as asked).
    search_query: str | None = None
    name: ClassVar[str] = "sources"

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"event": self.name, "sources": [h.to_dict() for h in self.sources],
                "evidence": self.evidence.to_dict() if self.evidence else None,
                "search_query": self.search_query}


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """A piece of the answer's text as the model writes it."""

    text: str
    name: ClassVar[str] = "token"

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"event": self.name, "text": self.text}


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """The finished, checked answer (with its evidence record's ids once it is kept)."""

    answer: Answer
    evidence_id: int | None = None
    conversation_id: int | None = None
    #: The standalone query a follow-up was searched with (None: searched as asked).
    search_query: str | None = None
    name: ClassVar[str] = "done"

    def to_dict(self) -> dict[str, Any]:
        """Wire form: the answer's fields, the query searched, the record ids if any."""
        out: dict[str, Any] = {"event": self.name, **self.answer.to_dict(),
                               "search_query": self.search_query}
        if self.evidence_id is not None:
            out.update(evidence_id=self.evidence_id, conversation_id=self.conversation_id)
        return out


AnswerEvent = SourcesEvent | TokenEvent | DoneEvent


def final_answer(events: Iterable[AnswerEvent]) -> DoneEvent:
    """The checked answer that ends a stream of answer events (reading it runs the model)."""
    for event in events:
        if isinstance(event, DoneEvent):
            return event
    raise RuntimeError("the answer's events ended without a done event")
