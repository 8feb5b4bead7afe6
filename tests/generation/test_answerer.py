"""Answerer: abstention and citation flow with a fake generator (unit), and the real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generation.answerer import Answerer
from generation.events import DoneEvent, StateEvent, TokenEvent, final_answer
from generation.prompt import NOT_FOUND_ANSWER
from retrieval.types import Hit
from tests.conftest import make_settings
from tests.generation.fakes import FakeRetriever, FakeScriptedGenerator


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
    assert kinds[:2] == ["state", "sources"] and kinds[-1] == "done"
    assert kinds.count("token") >= 3
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


# -- states, the draft, stopping -------------------------------------------------------------
_TRAVEL = ("The hotel cap is EUR 180 per night. Meals are paid at EUR 45 per day on domestic "
           "trips. Taxis need a receipt.")
# The first sentence cites a number the passage does not have: it cannot be supported.
_UNSUPPORTED = ("The hotel cap is EUR 999 per night [1]. " + "It is also EUR 999 on Sundays [1]. " * 20)


def _answerer(tmp_path: Path, gen, **generation):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, generation=generation)
    return Answerer(settings, FakeRetriever([_hit(0.9, _TRAVEL)]), gen)


def _states(events) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.state for e in events if isinstance(e, StateEvent)]


def test_states_of_a_kept_draft(tmp_path: Path) -> None:
    gen = FakeScriptedGenerator("The hotel cap is EUR 180 per night [1].")
    events = list(_answerer(tmp_path, gen, mode="auto").stream("hotel cap?", "c"))
    names = [e.name for e in events]
    assert names[:2] == ["state", "sources"] and names[-1] == "done"
    assert _states(events) == ["searching", "writing", "checking"]
    first, last = names.index("token"), len(names) - 1 - names[::-1].index("token")
    assert events[first - 1] == StateEvent("writing") and events[last + 1] == StateEvent("checking")
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer.draft == "kept" and done.to_dict()["draft"] == "kept"
    assert gen.closed


def test_states_without_evidence(tmp_path: Path) -> None:
    gen = FakeScriptedGenerator("made up")
    answerer = Answerer(make_settings(tmp_path), FakeRetriever([_hit(0.05)]), gen)  # type: ignore[arg-type]
    events = list(answerer.stream("What is the capital of Peru?", "c"))
    assert _states(events) == ["searching", "no_evidence"]
    assert [e.name for e in events] == ["state", "sources", "state", "token", "done"]
    assert events[-1].answer.draft is None and gen.yielded == 0  # type: ignore[union-attr]


def test_an_unsupported_draft_stops_early_and_is_replaced_by_quotes(tmp_path: Path) -> None:
    gen = FakeScriptedGenerator(_UNSUPPORTED)
    events = list(_answerer(tmp_path, gen, mode="auto").stream("hotel cap per night?", "c"))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer.mode == "extractive" and done.answer.draft == "replaced"
    assert "EUR 180" in done.answer.answer
    words = len(_UNSUPPORTED.split(" "))
    # stopped as soon as the first sentence was complete (the next one had begun)
    assert gen.closed and gen.yielded == len("The hotel cap is EUR 999 per night [1]. It".split())
    assert gen.yielded < words // 10
    assert _states(events) == ["searching", "writing", "checking"]


def test_without_early_stop_the_whole_draft_is_written(tmp_path: Path) -> None:
    gen = FakeScriptedGenerator(_UNSUPPORTED)
    answerer = _answerer(tmp_path, gen, mode="auto", early_stop_sentences=0, max_sentences=0)
    done = final_answer(answerer.stream("hotel cap per night?", "c"))
    assert done.answer.draft == "replaced"
    assert gen.yielded == len(_UNSUPPORTED.split(" "))


def test_a_long_draft_stops_after_max_sentences(tmp_path: Path) -> None:
    text = "The hotel cap is EUR 180 per night [1]. " * 10
    gen = FakeScriptedGenerator(text)
    answerer = _answerer(tmp_path, gen, mode="generative", max_sentences=2)
    done = final_answer(answerer.stream("hotel cap?", "c"))
    assert done.answer.answer == "The hotel cap is EUR 180 per night [1]. " * 1 + \
        "The hotel cap is EUR 180 per night [1]."
    assert done.answer.draft == "kept" and gen.closed and gen.yielded < 25


def test_closing_the_stream_stops_the_model(tmp_path: Path) -> None:
    """The reader stopped: closing the events closes the model's stream where it is."""
    gen = FakeScriptedGenerator("The hotel cap is EUR 180 per night [1]. " * 30)
    events = _answerer(tmp_path, gen, mode="generative", max_sentences=0).stream("cap?", "c")
    tokens = 0
    for event in events:
        tokens += isinstance(event, TokenEvent)
        if tokens == 3:
            break
    assert not gen.closed
    events.close()
    assert gen.closed and gen.yielded == 3  # not one word more was asked of the model


def test_a_model_whose_drafts_are_always_replaced_is_not_asked(tmp_path: Path) -> None:
    """After draft_history replaced drafts the quotes come at once; a probe now and then."""
    gen = FakeScriptedGenerator(_UNSUPPORTED)
    answerer = _answerer(tmp_path, gen, mode="auto", draft_history=3, skip_model_below=0.5,
                         draft_probe_every=5)
    drafted = []
    for _ in range(13):
        done = final_answer(answerer.stream("hotel cap per night?", "c"))
        assert done.answer.mode == "extractive" and "EUR 180" in done.answer.answer
        drafted.append(done.answer.draft)
    assert drafted[:3] == ["replaced"] * 3  # the record fills first
    # then the model is skipped, but every fifth question is drafted to keep the record
    assert drafted[3:] == ["skipped"] * 4 + ["replaced"] + ["skipped"] * 4 + ["replaced"]
    gen.yielded = 0
    events = list(answerer.stream("hotel cap per night?", "c"))
    assert _states(events) == ["searching"] and gen.yielded == 0  # no writing, no checking
    # another collection has a record of its own
    assert final_answer(answerer.stream("hotel cap?", "other")).answer.draft == "replaced"


def test_kept_drafts_keep_the_model_asked(tmp_path: Path) -> None:
    gen = FakeScriptedGenerator("The hotel cap is EUR 180 per night [1].")
    answerer = _answerer(tmp_path, gen, mode="auto", draft_history=2, skip_model_below=0.5)
    drafts = [final_answer(answerer.stream("hotel cap?", "c")).answer.draft for _ in range(5)]
    assert drafts == ["kept"] * 5
