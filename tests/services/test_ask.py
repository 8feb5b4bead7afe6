"""The ask service: stopping an answer stops the model and is kept in the evidence record.

The real app over the ingested handbook (real retrieval), with a scripted model standing in
for the LLM so the test knows exactly how much it was asked to write.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AnswerRecord
from generation.events import DoneEvent, SourcesEvent, StateEvent, TokenEvent, final_answer
from retrieval.acl import Principal
from services.accounts import create_user
from services.actor import Actor
from services.ask import STOPPED
from tests.conftest import make_settings
from tests.generation.fakes import FakeScriptedGenerator

pytestmark = pytest.mark.integration

QUESTION = "What is the daily meal allowance?"
LONG = "The daily meal allowance is EUR 45 for domestic trips [1]. " * 20


@pytest.fixture
def scripted(handbook_copy: Path) -> Iterator[tuple[Any, FakeScriptedGenerator, Actor]]:
    from services.container import build_services

    generator = FakeScriptedGenerator(LONG)
    settings = make_settings(handbook_copy, generation={"mode": "generative",
                                                        "max_sentences": 0})
    services = build_services(settings, generator=generator)
    services.open()
    with services.stack.sessions() as db:
        user = create_user(db, "ann", "correct-horse-battery-1", "admin")
        db.commit()
        who = Actor(user.id, "ann", "admin", Principal("ann", frozenset(), is_admin=True))
    yield services, generator, who
    services.close()


def _records(services: Any) -> list[AnswerRecord]:
    with services.stack.sessions() as db:
        return list(db.scalars(select(AnswerRecord).order_by(AnswerRecord.id)))


def test_the_stream_starts_after_retrieval_with_its_states(scripted) -> None:  # type: ignore[no-untyped-def]
    services, _generator, who = scripted
    events = services.asking.ask(who, QUESTION, "handbook")
    assert next(events) == StateEvent("searching")
    assert isinstance(next(events), SourcesEvent)  # already retrieved: errors came earlier
    assert next(events) == StateEvent("writing")
    done = final_answer(events)
    assert done.evidence_id is not None


def test_stopping_stops_the_model_and_records_a_stopped_answer(scripted) -> None:  # type: ignore[no-untyped-def]
    services, generator, who = scripted
    events = services.asking.ask(who, QUESTION, "handbook")
    written = ""
    for event in events:
        if isinstance(event, TokenEvent):
            written += event.text
            if generator.yielded == 5:
                break
    events.close()  # what the web server does when the reader goes away
    assert generator.closed and not generator.finished
    assert generator.yielded == 5  # the model was not asked for one more word
    [record] = _records(services)
    assert record.mode == STOPPED and record.answer == written.strip()
    assert record.answer == "The daily meal allowance is"
    assert not record.abstained and record.question == QUESTION
    thread = services.asking.conversation(who, record.conversation_id)
    assert [t.mode for t in thread.turns] == [STOPPED]


def test_a_finished_answer_is_not_recorded_as_stopped(scripted) -> None:  # type: ignore[no-untyped-def]
    services, generator, who = scripted
    events = services.asking.ask(who, QUESTION, "handbook")
    done = final_answer(events)  # leaves the stream suspended after its done event
    assert isinstance(done, DoneEvent) and generator.finished
    del events
    gc.collect()  # the abandoned stream is closed now
    [record] = _records(services)
    assert record.id == done.evidence_id and record.mode == "generative"


def test_a_new_process_remembers_which_drafts_were_replaced(handbook_copy: Path) -> None:
    """The draft outcomes go into the answer records; a web process started later (a restart,
    another worker) skips the model over a scope at once instead of paying for
    ``draft_history`` replaced drafts again — for the same model only."""
    from services.container import build_services

    unsupported = "Employees must wear green hats on Fridays [1]. "
    settings = make_settings(handbook_copy, generation={
        "mode": "auto", "draft_history": 2, "skip_model_below": 0.5, "draft_probe_every": 50})
    first = build_services(settings, generator=FakeScriptedGenerator(unsupported))
    first.open()
    with first.stack.sessions() as db:
        user = create_user(db, "ann", "correct-horse-battery-1", "admin")
        db.commit()
        who = Actor(user.id, "ann", "admin", Principal("ann", frozenset(), is_admin=True))
    drafts = [final_answer(first.asking.ask(who, QUESTION, "handbook")).answer.draft for _ in range(3)]
    assert drafts == ["replaced", "replaced", "skipped"]
    assert [r.draft for r in _records(first)] == drafts
    first.close()

    generator = FakeScriptedGenerator(unsupported)
    second = build_services(settings, generator=generator)
    second.open()
    try:
        assert final_answer(second.asking.ask(who, QUESTION, "handbook")).answer.draft == "skipped"
        assert generator.yielded == 0 and not generator.closed  # the model was never asked
    finally:
        second.close()

    other_model = FakeScriptedGenerator(unsupported, name="another-model")
    third = build_services(settings, generator=other_model)
    third.open()
    try:  # another model has no record here yet: it drafts
        assert final_answer(third.asking.ask(who, QUESTION, "handbook")).answer.draft == "replaced"
        assert other_model.yielded > 0
    finally:
        third.close()


def test_warm_up_leaves_nothing_to_load_at_the_first_question(scripted) -> None:  # type: ignore[no-untyped-def]
    services, _generator, who = scripted
    services.warm_up()
    embedder = services.stack.embedder
    loaded = set(vars(embedder))  # cached properties: models, sessions, tokenizer
    final_answer(services.asking.ask(who, QUESTION, "handbook"))
    assert set(vars(embedder)) == loaded  # e.g. ONNX Runtime's one-batch session
