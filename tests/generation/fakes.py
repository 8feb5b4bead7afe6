"""Fakes shared by the generation unit tests (named Fake*: no real retrieval behind them)."""

from __future__ import annotations

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
