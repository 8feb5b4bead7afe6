"""The ask page tells the truth while an answer is made, in a real browser.

A scripted model (a word every ``DELAY`` seconds) stands in for the LLM, over the real
retrieval of the ingested handbook:

- the status line follows the server's states, and the model's draft is shown greyed and
  labelled as a draft until it is checked;
- when the draft is not supported, the page says that quotes replace it (never a silent swap),
  and the server stopped writing the draft as soon as it could not pass;
- Stop ends the answer on the server: the model's stream is closed, and the evidence record
  keeps the partial draft as stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AnswerRecord
from tests.conftest import make_settings
from tests.generation.fakes import FakeScriptedGenerator

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "What is the daily meal allowance?"
DELAY = 0.12
SUPPORTED = "The daily meal allowance is EUR 45 for domestic trips [1]."
# EUR 99 is in no passage: the first sentence cannot be supported, so quotes replace it
UNSUPPORTED = "The daily meal allowance is EUR 99 for every trip [1]. " * 10
LONG = "The daily meal allowance is EUR 45 for domestic trips [1]. " * 30


def _serve(handbook_copy: Path, generator: FakeScriptedGenerator, **generation: Any
           ) -> Iterator[Any]:
    from services.container import build_services
    from web import create_app, start

    settings = make_settings(handbook_copy, generation=generation)
    services = build_services(settings, generator=generator)
    yield start(create_app(settings, services=services))
    services.close()


@pytest.fixture
def scripted(handbook_copy: Path):  # type: ignore[no-untyped-def]
    """Factory: (app, generator) for a scripted model writing ``text``."""
    made: list[Iterator[Any]] = []

    def make(text: str, **generation: Any) -> tuple[Any, FakeScriptedGenerator]:
        generator = FakeScriptedGenerator(text, delay=DELAY)
        served = _serve(handbook_copy, generator, **generation)
        made.append(served)
        return next(served), generator

    yield make
    for served in made:
        next(served, None)


def _ask(page: Any, base_url: str, question: str = QUESTION) -> None:
    page.goto(base_url + "/")
    page.fill("#question", question)
    page.click("#ask-button")


def _artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$ENCLAVE_ARTIFACTS`` when set, else the test's tmp_path."""
    folder = Path(os.environ.get("ENCLAVE_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_states_and_a_checked_draft(scripted, live_server, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _ = scripted(SUPPORTED, mode="auto")
    _ask(page, live_server(app))
    page.locator("#answer.draft", has_text="meal allowance").wait_for()
    assert page.inner_text("#status") == "Writing a draft answer…"
    assert "Draft, being written" in page.inner_text("#draft-note")
    assert page.get_attribute("#answer", "data-state") == "writing"
    page.screenshot(path=str(_artifacts(tmp_path) / "ask-draft.png"), full_page=True)
    page.wait_for_selector('#answer[data-done="1"]', state="attached")
    assert page.get_attribute("#answer", "data-checked") == "kept"
    assert page.locator("#draft-note").is_hidden()
    assert "draft" not in (page.get_attribute("#answer", "class") or "").split()
    assert page.locator("#mode").is_hidden()  # nothing was replaced
    assert page.inner_text("#status").startswith("Answer with 1 citation")
    assert page.inner_text("#answer") == SUPPORTED


def test_no_evidence_is_said(scripted, live_server, page) -> None:  # type: ignore[no-untyped-def]
    app, generator = scripted(SUPPORTED, mode="auto")
    _ask(page, live_server(app), "What is the capital of Peru?")
    page.wait_for_selector('#answer[data-done="1"]', state="attached")
    assert page.inner_text("#status") == "The documents do not answer this."
    assert page.locator("#draft-note").is_hidden()
    assert generator.yielded == 0  # no model was asked


def test_a_replaced_draft_is_announced(scripted, live_server, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, generator = scripted(UNSUPPORTED, mode="auto")
    _ask(page, live_server(app))
    page.locator("#answer.draft", has_text="EUR 99").wait_for()  # the draft, greyed
    page.wait_for_selector('#answer[data-done="1"]', state="attached")
    assert page.get_attribute("#answer", "data-checked") == "replaced"
    assert page.inner_text("#mode") == ("The model's draft was not supported by the sources; "
                                        "showing quotes instead.")
    answer = page.inner_text("#answer")
    assert "EUR 99" not in answer and answer.startswith("According to")
    # the server stopped writing the draft once its first sentence failed the check
    assert generator.closed and not generator.finished
    assert generator.yielded <= len(UNSUPPORTED.split(" ")) // 5
    page.screenshot(path=str(_artifacts(tmp_path) / "ask-replaced-draft.png"), full_page=True)


def test_stop_stops_the_model_on_the_server(scripted, live_server, page) -> None:  # type: ignore[no-untyped-def]
    app, generator = scripted(LONG, mode="generative", max_sentences=0)
    _ask(page, live_server(app))
    page.locator("#answer", has_text="domestic trips").wait_for()
    page.click("#stop-button")
    page.wait_for_selector('#answer[data-stopped="1"]', state="attached")
    deadline = time.monotonic() + 5  # the server notices at its next write
    while not generator.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert generator.closed and not generator.finished
    written = generator.yielded
    time.sleep(DELAY * 5)
    assert generator.yielded == written < len(LONG.split(" ")) // 2  # nothing after the stop
    with app.extensions["enclave"].stack.sessions() as db:
        [record] = db.scalars(select(AnswerRecord)).all()
    assert record.mode == "stopped"
    assert record.answer.startswith("The daily meal allowance is EUR 45")
    assert page.locator("#draft-note").is_hidden()  # no longer "being checked"


def test_a_skipped_model_is_said(scripted, live_server, page) -> None:  # type: ignore[no-untyped-def]
    """Once the model's recent drafts were all replaced, the page says it was not asked."""
    app, generator = scripted(UNSUPPORTED, mode="auto", draft_history=1, skip_model_below=0.5)
    base_url = live_server(app)
    _ask(page, base_url)  # drafted, replaced: the record is full (1 draft, none kept)
    page.wait_for_selector('#answer[data-checked="replaced"]', state="attached")
    generator.yielded = 0
    _ask(page, base_url)
    page.wait_for_selector('#answer[data-checked="skipped"]', state="attached")
    assert "so it was not asked" in page.inner_text("#mode")
    assert page.inner_text("#answer").startswith("According to")
    assert generator.yielded == 0 and page.locator("#draft-note").is_hidden()
