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
    # The span of ``text`` (character offsets into the chunk text; add the hit's char_start
    # for document offsets) that supports the sentences citing it; None when none does.
    span_start: int | None = None
    span_end: int | None = None
    # Where ``text`` starts in the document's text (the hit's ``char_start``): the span in
    # document offsets is ``char_start + span_start`` .. ``char_start + span_end``.
    char_start: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SupportSpan:
    """Where cited passage ``n`` (chunk ``chunk_id``) supports a sentence: chunk-text offsets."""

    n: int
    chunk_id: int
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an answer with its ``[n]`` citations and whether they support it.

    ``start``/``end`` locate the sentence in the answer text. ``claim`` is true when the
    sentence states something checkable (it cites, or it contains numbers or names);
    ``supported`` is false for a claim no cited passage backs. ``support_score`` is the best
    support score found (None when nothing was checked).
    """

    text: str
    citations: list[int]
    supported: bool
    support_score: float | None
    spans: list[SupportSpan]
    start: int = 0
    end: int = 0
    claim: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "text": self.text, "citations": list(self.citations), "supported": self.supported,
            "support_score": None if self.support_score is None else round(self.support_score, 4),
            "spans": [s.to_dict() for s in self.spans], "start": self.start, "end": self.end,
            "claim": self.claim,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sentence:
        """Inverse of :meth:`to_dict`."""
        return cls(
            text=data["text"], citations=list(data["citations"]), supported=data["supported"],
            support_score=data.get("support_score"),
            spans=[SupportSpan(**s) for s in data.get("spans", [])],
            start=data.get("start", 0), end=data.get("end", 0), claim=data.get("claim", True),
        )


@dataclass(slots=True)
class Answer:
    """A finished answer with its citations and the passages it was written from."""

    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[Hit] = field(default_factory=list)
    abstained: bool = False
    model: str = ""
    sentences: list[Sentence] = field(default_factory=list)
    mode: str = "generative"  # "generative": the model's words; "extractive": quoted passages
    #: What became of the model's draft (the text streamed while it was written): None when
    #: no model wrote one (no evidence, extractive mode), "kept" when the answer is the
    #: checked draft, "replaced" when the draft did not pass the check and the answer is
    #: something else (quotes in auto mode, or the could-not-be-verified notice), "skipped"
    #: when the model was not asked because its recent drafts were nearly all replaced.
    draft: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "abstained": self.abstained,
            "model": self.model,
            "sentences": [s.to_dict() for s in self.sentences],
            "mode": self.mode,
            "draft": self.draft,
        }


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The answering model, as the admin page and the evidence records show it."""

    name: str  # the name answers carry (GGUF file name, or the served model's name)
    title: str
    backend: str
    preset: str | None = None
    file: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    licence: str | None = None  # the preset's (upstream) licence
    file_licence: str | None = None  # general.license in the GGUF metadata
    n_ctx: int | None = None
    chat_template: str | None = None
    hardware: str | None = None
    source: str | None = None
    #: the pinned local conversion llama.cpp runs instead of ``file`` (preset ``run_as``)
    runs_as: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @property
    def licence_text(self) -> str | None:
        """The licence to show: the preset's, and the file's own where it says otherwise."""
        if (self.licence and self.file_licence
                and self.file_licence.lower() != self.licence.lower()):
            return f"{self.licence} (file says {self.file_licence})"
        return self.licence or self.file_licence


class Generator(Protocol):
    """A chat model that streams text."""

    @property
    def model_name(self) -> str:
        """Name of the model for answers and records."""
        ...

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield the answer's text pieces as they are produced."""
        ...
