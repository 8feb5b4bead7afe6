"""The ask page in a real browser: Debian's chromium driven by Playwright.

The app is served from a thread of the test process on 127.0.0.1 (``live_server``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from config.settings import Settings
from generation.types import Message
from tests.conftest import make_settings

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "What is the daily meal allowance?"
ANSWER_TIMEOUT_MS = 120_000


class FakeXSSGenerator:
    """A generator whose "answer" is hostile markup, to prove the page renders it as text."""

    PIECES = (
        '<img src=x onerror="window.__xss=1">',
        " <script>window.__xss=2</script>",
        " ![x](http://127.0.0.1:9/leak.png) [1]",
    )

    @property
    def model_name(self) -> str:
        return "fake-xss"

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        yield from self.PIECES


def _ask(page: Any, base_url: str, question: str = QUESTION) -> None:
    page.goto(base_url + "/")
    assert page.locator("#collection").input_value() == "handbook"
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector('#answer[data-done="1"]', state="attached",
                           timeout=ANSWER_TIMEOUT_MS)


def _record_requests(page: Any) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_ask_in_browser_shows_cited_answer(app, live_server, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    requests = _record_requests(page)

    _ask(page, base_url)

    answer = page.inner_text("#answer").strip()
    assert answer
    citations = page.inner_text("#citations")
    assert "travel-and-expenses.pdf" in citations
    assert page.locator("#citations li").count() >= 1
    assert "citation" in page.inner_text("#status")
    assert page.is_enabled("#ask-button")
    assert not console_errors, console_errors  # e.g. a CSP violation (the favicon may 404)
    assert any(urlsplit(u).path == "/api/v1/ask" for u in requests)

    shot = tmp_path / "ask.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file() and shot.stat().st_size > 1000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_abstention_in_browser(app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)
    _ask(page, base_url, "What is the capital of Peru?")
    assert "do not contain" in page.inner_text("#answer")
    assert page.inner_text("#status") == "The documents do not answer this."
    assert "Closest passages" in page.inner_text("#citations")


@pytest.fixture
def xss_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    """The app over the handbook, answering with :class:`FakeXSSGenerator`."""
    from services.container import build_services
    from web import create_app, start

    # generative mode: the hostile model output must reach the page (auto mode would replace
    # this unsupported answer with an extractive one before the browser sees it)
    settings: Settings = make_settings(handbook_copy, generation={"mode": "generative"})
    services = build_services(settings, generator=FakeXSSGenerator())
    application = start(create_app(settings, services=services))
    yield application
    services.close()


def test_model_output_is_rendered_as_text(xss_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(xss_app)
    requests = _record_requests(page)

    _ask(page, base_url)

    assert page.evaluate("window.__xss") is None
    assert page.locator("#answer img").count() == 0
    assert page.locator("#answer script").count() == 0
    assert page.locator("img").count() == 0
    text = page.inner_text("#answer")
    assert "<img" in text and "<script>" in text and "onerror" in text
    assert "leak.png" not in text  # image links are stripped from answers (generation/safety.py)
    # the [1] marker becomes a link to the citation, which is from the handbook
    assert page.locator("#answer a.cite").count() == 1
    assert page.get_attribute("#answer a.cite", "href") == "#cite-1"
    assert "travel-and-expenses.pdf" in page.inner_text("#citations")

    assert requests, "the page made requests"
    own = urlsplit(base_url)
    for url in requests:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1", f"request left the host: {url}"
        assert parts.port == own.port, f"request to another service: {url}"
    assert not any("leak.png" in u for u in requests)

    # The history view renders the stored answer as text too.
    page.goto(base_url + "/")
    page.locator("#history button").first.click()
    page.locator("#answer[data-history='1']").wait_for()
    history_text = page.inner_text("#answer")
    assert "<img" in history_text and "<script>" in history_text
    assert page.locator("#answer img, #answer script, img, svg").count() == 0
    assert page.evaluate("window.__xss") is None
    assert not any("leak.png" in u for u in requests)


@pytest.fixture
def extractive_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    """The app over the handbook, answering extractively (no LLM: fast)."""
    from web import create_app, start

    application = start(create_app(make_settings(handbook_copy,
                                                 generation={"mode": "extractive"})))
    yield application
    application.extensions["enclave"].close()


def test_thumbs_down_in_browser_is_stored(extractive_app, live_server, page) -> None:  # type: ignore[no-untyped-def]
    from db.models import AnswerFeedback

    base_url = live_server(extractive_app)
    assert page.locator("#feedback").is_hidden()  # nothing to rate before an answer
    _ask(page, base_url)
    page.locator("#feedback").wait_for(state="visible")
    evidence = int(page.get_attribute("#feedback", "data-evidence"))
    assert page.get_attribute("#thumbs-down", "aria-label")

    def stored() -> tuple[str, str] | None:
        with extractive_app.extensions["enclave"].stack.sessions() as db:
            row = db.get(AnswerFeedback, evidence)
            return None if row is None else (row.rating, row.comment)

    page.focus("#thumbs-up")  # keyboard only: a focused button and Enter
    page.keyboard.press("Enter")
    page.wait_for_selector('#feedback[data-rating="up"]', state="attached")
    assert stored() == ("up", "")

    page.fill("#feedback-comment", "The allowance for trips abroad is missing.")
    page.click("#thumbs-down")
    page.wait_for_selector('#feedback[data-rating="down"]', state="attached")
    assert page.get_attribute("#thumbs-down", "aria-pressed") == "true"
    assert page.get_attribute("#thumbs-up", "aria-pressed") == "false"
    assert "saved" in page.inner_text("#feedback-status")
    assert stored() == ("down", "The allowance for trips abroad is missing.")
