"""Dataclasses and Protocols at generation's boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from retrieval.types import Hit

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source that the answer cites as ``[n]``."""

    n: int
    chunk_id: int
    document: str
    document_id: int
    page: int | None
    heading_path: str
    quote: str
    text: str
    score: float
    attributed_by: str = "model"  # "model": the LLM wrote [n]; "overlap": added by matching

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(slots=True)
class Answer:
    """A finished answer with its citations and the passages it was written from."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[Hit] = field(default_factory=list)
    abstained: bool = False
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "abstained": self.abstained,
            "model": self.model,
        }


class Generator(Protocol):
    """A chat model that streams text."""

    @property
    def model_name(self) -> str:
        """Name of the model for answers and records."""
        ...

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield the answer's text pieces as they are produced."""
        ...
