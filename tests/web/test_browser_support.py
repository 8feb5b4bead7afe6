"""Verifiable answers in a real browser: the supporting span is marked inside the cited passage,
unsupported sentences are flagged, extractive answers say so, and a citation opens its
passage in the source viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generation.types import Message
from tests.conftest import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "What is the daily meal allowance?"
MEALS_SENTENCE = ("The daily meal allowance is EUR 45 for domestic trips and EUR 60 for "
                  "international trips.")
ANSWER_TIMEOUT_MS = 120_000


class FakeGenerator:
    """One supported and one unsupported (wrong number) sentence, both citing [1]."""

    TEXT = ("The daily meal allowance is EUR 45 for domestic trips [1]. "
            "On domestic trips the company also pays EUR 99 per day for dinner [1].")

    @property
    def model_name(self) -> str:
        return "fake-support"

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        yield from self.TEXT.split(" ")[:1]
        for word in self.TEXT.split(" ")[1:]:
            yield " " + word


def _app(handbook_copy: Path, **generation: Any):  # type: ignore[no-untyped-def]
    from services.container import build_services
    from web import create_app, start

    settings = make_settings(handbook_copy, generation=generation)
    services = build_services(settings, generator=FakeGenerator())
    return start(create_app(settings, services=services)), services


@pytest.fixture
def flag_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    application, services = _app(handbook_copy, mode="generative", unsupported="flag")
    yield application
    services.close()


@pytest.fixture
def extractive_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    application, services = _app(handbook_copy, mode="extractive")
    yield application
    services.close()


def _ask(page: Any, base_url: str, question: str = QUESTION) -> None:
    page.goto(base_url + "/")
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector('#answer[data-done="1"]', state="attached", timeout=ANSWER_TIMEOUT_MS)


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_supporting_span_is_marked_and_unsupported_sentence_flagged(  # type: ignore[no-untyped-def]
    flag_app, live_server, page
) -> None:
    base_url = live_server(flag_app)
    errors = _errors(page)
    _ask(page, base_url)

    marks = page.locator("#citations mark")
    assert marks.count() == 1
    assert marks.first.inner_text() == MEALS_SENTENCE
    # the mark sits inside the quoted passage, with the passage text around it
    assert MEALS_SENTENCE in page.inner_text("#cite-1 blockquote")

    flagged = page.locator("#answer .sentence.unsupported")
    assert flagged.count() == 1
    assert "EUR 99" in flagged.first.inner_text()
    assert flagged.first.get_attribute("title") == "not supported by the cited source"
    assert page.locator("#answer .sentence").count() == 2
    assert page.locator("#answer .sentence:not(.unsupported)").first.inner_text().startswith(
        "The daily meal allowance is EUR 45")
    # the [n] markers inside sentences stay links to the citation
    assert page.locator("#answer .sentence a.cite").count() == 2
    assert "not supported" in page.inner_text("#status")
    assert page.get_attribute("#answer", "data-mode") == "generative"
    assert page.locator("#mode").is_hidden()
    assert not errors, errors


def test_citation_opens_the_passage_in_its_document(flag_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(flag_app)
    errors = _errors(page)
    _ask(page, base_url)
    link = page.locator("#cite-1 a.open-source")
    assert link.get_attribute("target") == "_blank"
    with page.context.expect_page() as opened:
        link.click()
    viewer = opened.value
    viewer.wait_for_load_state()
    assert "/sources/" in viewer.url
    assert viewer.inner_text("#source-document") == "travel-and-expenses.pdf"
    assert "page 2" in viewer.inner_text("#source-page")
    assert viewer.inner_text("section.passage.current mark") == MEALS_SENTENCE
    assert not errors, errors


def test_extractive_answer_is_labelled(extractive_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(extractive_app)
    errors = _errors(page)
    _ask(page, base_url, "What is the daily meal allowance for domestic trips?")
    assert page.get_attribute("#answer", "data-mode") == "extractive"
    assert page.locator("#mode").is_visible()
    assert "Extractive answer" in page.inner_text("#mode")
    answer = page.inner_text("#answer")
    assert answer.startswith("According to travel-and-expenses.pdf (p. 2):")
    assert MEALS_SENTENCE in answer
    assert page.locator("#citations mark").count() >= 1
    assert page.locator("#answer .unsupported").count() == 0
    assert not errors, errors


def test_real_model_answer_marks_its_support(app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)
    _ask(page, base_url)
    assert page.locator("#citations li").count() >= 1
    assert page.locator("#citations mark").count() >= 1
    assert page.get_attribute("#answer", "data-mode") in ("generative", "extractive")
