"""Fakes shared by the generation unit tests (named Fake*: no real retrieval behind them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from retrieval.types import Hit


class FakeRetriever:
    """Returns fixed hits and records the principal each search was made for."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.principals: list[Any] = []

    def search(self, query: str, collection: str, k: int | None = None, filters: Any = None,
               *, principal: Any = None) -> list[Hit]:
        self.principals.append(principal)
        return self.hits[: k or 5]

    def assess(self, question: str, hits: list[Hit]) -> Any:
        """The real judgement, without a keyword index (every term counts as known)."""
        from config.settings import RetrievalSettings
        from retrieval.evidence import judge

        settings = RetrievalSettings()
        return judge(question, hits, lambda stems: ({}, 0), settings.abstention,
                     settings.min_score)


class FakeScriptedGenerator:
    """A model that writes ``text`` word by word (``delay`` seconds before each word).

    Records how many words it wrote and whether its stream was closed, so tests can tell
    that generation really stopped (closing a generator's stream is how a model is stopped).
    """

    def __init__(self, text: str, delay: float = 0.0, name: str = "fake-scripted") -> None:
        self.text = text
        self.delay = delay
        self.name = name
        self.yielded = 0
        self.closed = False
        self.finished = False  # wrote the whole text

    @property
    def model_name(self) -> str:
        return self.name

    def stream(self, messages: Any, max_tokens: int, temperature: float) -> Iterator[str]:
        self.yielded, self.closed, self.finished = 0, False, False
        try:
            for i, word in enumerate(self.text.split(" ")):
                if self.delay:
                    time.sleep(self.delay)
                self.yielded += 1
                yield word if i == 0 else " " + word
            self.finished = True
        finally:
            self.closed = True
