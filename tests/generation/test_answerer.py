"""Answerer: abstention and citation flow with a fake generator (unit), and the real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generation.answerer import Answerer
from generation.prompt import NOT_FOUND_ANSWER
from retrieval.types import Hit
from tests.conftest import make_settings
from tests.generation.fakes import FakeRetriever


class FakeRecordingGenerator:
    model_name = "fake"

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def stream(self, messages, max_tokens, temperature) -> Iterator[str]:  # type: ignore[no-untyped-def]
        self.calls += 1
        yield from self.text.split(" ")[:1]
        for word in self.text.split(" ")[1:]:
            yield " " + word


def _hit(score: float, text: str = "The hotel cap is EUR 180 per night.") -> Hit:
    return Hit(1, 1, "travel.pdf", "c", 2, "Hotels", text, score, 0, len(text))


def test_weak_evidence_abstains_without_calling_the_model(tmp_path: Path) -> None:
    gen = FakeRecordingGenerator("made up")
    answerer = Answerer(make_settings(tmp_path), FakeRetriever([_hit(0.05)]), gen)  # type: ignore[arg-type]
    answer = answerer.ask("What is the capital of Peru?", "c")
    assert answer.abstained and answer.answer == NOT_FOUND_ANSWER
    assert answer.citations == [] and answer.sources[0].score == 0.05
    assert gen.calls == 0


def test_stream_events_and_citations(tmp_path: Path) -> None:
    gen = FakeRecordingGenerator("The hotel cap is EUR 180 [1].")
    answerer = Answerer(make_settings(tmp_path), FakeRetriever([_hit(0.9)]), gen)  # type: ignore[arg-type]
    events = [e.to_dict() for e in answerer.stream("hotel cap?", "c")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "done" and kinds.count("token") >= 3
    done = events[-1]
    assert done["answer"] == "The hotel cap is EUR 180 [1]."
    assert done["citations"][0]["document"] == "travel.pdf"
    assert done["citations"][0]["page"] == 2
    assert done["citations"][0]["attributed_by"] == "model"


def test_model_saying_not_found_is_an_abstention(tmp_path: Path) -> None:
    gen = FakeRecordingGenerator(NOT_FOUND_ANSWER)
    answerer = Answerer(make_settings(tmp_path), FakeRetriever([_hit(0.9)]), gen)  # type: ignore[arg-type]
    assert answerer.ask("q", "c").abstained


def test_the_principal_reaches_the_retriever(tmp_path: Path) -> None:
    from retrieval.acl import Principal

    retriever = FakeRetriever([_hit(0.9)])
    answerer = Answerer(make_settings(tmp_path), retriever,  # type: ignore[arg-type]
                        FakeRecordingGenerator("The hotel cap is EUR 180 [1]."))
    who = Principal("ann", frozenset({"hr"}))
    answerer.ask("hotel cap?", "c", principal=who)
    list(answerer.stream("hotel cap?", "c"))
    assert retriever.principals == [who, None]


def test_empty_question_is_refused(tmp_path: Path) -> None:
    answerer = Answerer(make_settings(tmp_path), FakeRetriever([]), FakeRecordingGenerator("x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        answerer.ask("   ", "c")


@pytest.mark.integration
def test_real_models_answer_with_the_right_citation(handbook_dir: Path) -> None:
    from generation.stack import build_answerer
    from retrieval.stack import build_retrieval

    settings = make_settings(handbook_dir)
    stack = build_retrieval(settings)
    try:
        answerer = build_answerer(settings, stack.retriever)
        answer = answerer.ask("What is the daily meal allowance?", "handbook")
        assert not answer.abstained
        assert answer.model == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert answer.citations, answer.answer
        assert answer.citations[0].document == "travel-and-expenses.pdf"
        assert answer.citations[0].page == 2
        assert "45" in answer.answer or "60" in answer.answer  # both allowances are right

        off_topic = answerer.ask("What is the capital of Peru?", "handbook")
        assert off_topic.abstained and off_topic.answer == NOT_FOUND_ANSWER
    finally:
        stack.close()
