"""The events of an answer as it is made, typed: what generation hands to the web app.

``Answerer.stream`` yields one :class:`SourcesEvent` (the passages, and the evidence judgement
that decided whether the model is asked at all), then :class:`TokenEvent` pieces, then one
:class:`DoneEvent` with the checked :class:`~generation.types.Answer`. :class:`StateEvent`
events say what is happening between them, so a reader is never shown a state that is not
true:

    state(searching) sources state(no_evidence) token done          (no evidence)
    state(searching) sources state(writing) token... state(checking) done   (a model's draft)
    state(searching) sources token done                      (quotes: extractive, or skipped)

``to_dict`` is the wire form of each (server-sent events and JSON replies).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from generation.types import Answer
from retrieval.evidence import Evidence
from retrieval.types import Hit

State = Literal["searching", "writing", "checking", "no_evidence"]


@dataclass(frozen=True, slots=True)
class StateEvent:
    """What the answer is doing now.

    ``searching``: retrieving passages. ``writing``: the model writes a draft (the tokens
    that follow; not yet checked). ``checking``: the draft is being checked against its
    sources (it is kept, or replaced by quotes: the done event's ``draft`` says which).
    ``no_evidence``: the documents do not answer the question; no model is asked.
    """

    state: State
    name: ClassVar[str] = "state"

    def to_dict(self) -> dict[str, Any]:
        """Wire form."""
        return {"event": self.name, "state": self.state}


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
    """A piece of the answer's text as it is written (a model's draft is checked afterwards)."""

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


AnswerEvent = StateEvent | SourcesEvent | TokenEvent | DoneEvent
#: An answer's events as they are made; closing it stops the model writing the answer.
AnswerStream = Generator[AnswerEvent, None, None]


def final_answer(events: Iterable[AnswerEvent]) -> DoneEvent:
    """The checked answer that ends a stream of answer events (reading it runs the model)."""
    for event in events:
        if isinstance(event, DoneEvent):
            return event
    raise RuntimeError("the answer's events ended without a done event")
