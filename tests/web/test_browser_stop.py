"""Stopping a streamed answer in a real browser, and a reopened answer showing its rating.

The model is scripted and slow (a word every 0.15 s), so the answer is still streaming when
the test presses Stop (or Escape): the partial answer stays, marked as stopped in words, the
Stop button goes away and Ask works again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generation.types import Message
from tests.conftest import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "What is the daily meal allowance?"
WORD_DELAY_S = 0.15


class SlowGenerator:
    """A long cited answer, one word at a time."""

    TEXT = "The daily meal allowance is EUR 45 for domestic trips [1]. " * 12

    def __init__(self, delay: float = WORD_DELAY_S) -> None:
        self.delay = delay

    @property
    def model_name(self) -> str:
        return "fake-slow"

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        for i, word in enumerate(self.TEXT.split(" ")):
            time.sleep(self.delay)
            yield word if i == 0 else " " + word


def _app(handbook_copy: Path, generator: Any):  # type: ignore[no-untyped-def]
    from services.container import build_services
    from web import create_app, start

    settings = make_settings(handbook_copy, generation={"mode": "generative",
                                                        "unsupported": "flag"})
    services = build_services(settings, generator=generator)
    return start(create_app(settings, services=services)), services


@pytest.fixture
def slow_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    application, services = _app(handbook_copy, SlowGenerator())
    yield application
    services.close()


@pytest.fixture
def quick_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    application, services = _app(handbook_copy, SlowGenerator(delay=0))
    yield application
    services.close()


def _start_asking(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    assert page.locator("#stop-button").is_hidden()  # only while an answer streams
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.locator("#answer", has_text="meal allowance").wait_for()
    assert page.locator("#stop-button").is_visible()
    assert page.is_disabled("#ask-button")
    assert page.get_attribute("#answer", "aria-busy") == "true"


def _assert_stopped(page: Any) -> None:
    page.wait_for_selector('#answer[data-stopped="1"]', state="attached")
    assert "Stopped: this answer is incomplete" in page.inner_text("#answer")
    assert page.inner_text("#status") == "Stopped."
    assert page.get_attribute("#answer", "data-done") is None  # no final answer came
    assert page.locator("#stop-button").is_hidden()
    assert page.is_enabled("#ask-button")
    assert page.get_attribute("#answer", "aria-busy") is None
    assert page.locator("#feedback").is_hidden()  # nothing recorded to rate


def test_stop_button_stops_the_stream(slow_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base_url = live_server(slow_app)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _start_asking(page, base_url)
    expect(page.locator("#stop-button")).to_be_focused()  # the focus follows
    page.click("#stop-button")
    _assert_stopped(page)
    partial = page.inner_text("#answer")
    page.wait_for_timeout(int(WORD_DELAY_S * 1000 * 4))
    assert page.inner_text("#answer") == partial  # nothing streams in after Stop
    expect(page.locator("#ask-button")).to_be_focused()
    assert not errors, errors


def test_escape_stops_the_stream(slow_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(slow_app)
    _start_asking(page, base_url)
    page.keyboard.press("Escape")
    _assert_stopped(page)


def test_reopened_answer_shows_the_earlier_rating(quick_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(quick_app)
    page.goto(base_url + "/")
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector('#answer[data-done="1"]', state="attached")
    page.fill("#feedback-comment", "Too long.")
    page.click("#thumbs-down")
    page.locator("#feedback-status", has_text="Thank you").wait_for()

    page.goto(base_url + "/")  # later: the answer opened again from the history
    assert page.get_attribute("#thumbs-down", "aria-pressed") == "false"
    page.locator("#history button").first.click()
    page.wait_for_selector('#answer[data-history="1"]', state="attached")
    assert page.get_attribute("#thumbs-down", "aria-pressed") == "true"
    assert page.get_attribute("#thumbs-up", "aria-pressed") == "false"
    assert page.input_value("#feedback-comment") == "Too long."
    assert "You rated this answer earlier: thumbs down" in page.inner_text("#feedback-status")


def test_new_conversation_starts_afresh(quick_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    """After an answer the page continues its conversation (follow-ups); New conversation ends it."""
    base_url = live_server(quick_app)
    page.goto(base_url + "/")
    assert page.locator("#new-conversation").is_hidden()  # nothing to leave yet

    def ask(question: str) -> dict[str, Any]:
        page.fill("#question", question)
        with page.expect_request(lambda r: r.url.endswith("/api/v1/ask")) as request:
            page.click("#ask-button")
        page.wait_for_selector('#answer[data-done="1"]', state="attached")
        return request.value.post_data_json  # type: ignore[no-any-return]

    assert "conversation_id" not in ask(QUESTION)
    assert page.locator("#new-conversation").is_visible()
    assert "conversation_id" in ask("and for international trips?")  # a follow-up
    page.click("#new-conversation")
    assert page.locator("#new-conversation").is_hidden()
    assert page.inner_text("#answer") == ""
    assert "New conversation" in page.inner_text("#status")
    assert page.evaluate("document.activeElement.id") == "question"
    assert "conversation_id" not in ask(QUESTION)
