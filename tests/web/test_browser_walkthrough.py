"""A new user's walk through Enclave in a real browser (issue 16), with screenshots.

Log in, upload with live progress, ask over several collections chosen in the scope
selector, follow up, thumbs down, open a citation, the search page with its matched words
marked, the conversation list (rename, permalink), and the admin console (documents,
re-ingest with its job, storage and index statistics).

Screenshots go to ``$ENCLAVE_ARTIFACTS/walkthrough`` when that is set, else to
``test-artifacts/walkthrough`` in the repository (git-ignored); the best ones are copied into
``docs/`` (docs/development.md#browser-tests).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.web.conftest import browser_unavailable_reason

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(browser_unavailable_reason() is not None,
                       reason=browser_unavailable_reason() or ""),
]

ANSWER_TIMEOUT_MS = 120_000
JOB_TIMEOUT_MS = 180_000
KICKOFF = ("# Project kickoff\n\nEvery project kickoff books the orchid room for two hours. "
           "Travel to a kickoff abroad is booked through the travel desk; the kickoff "
           "codeword is ZEPHYR-KICKOFF-41.\n")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def walk_app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    """The handbook app answering extractively (no LLM: fast and deterministic)."""
    from web import create_app, start

    application = start(create_app(make_settings(handbook_copy,
                                                 generation={"mode": "extractive"})))
    yield application
    application.extensions["enclave"].close()


@pytest.fixture
def shots() -> Path:
    """The screenshot folder (kept after the run: CI uploads it, people look at it)."""
    root = os.environ.get("ENCLAVE_ARTIFACTS")
    folder = (Path(root) if root else REPO / "test-artifacts") / "walkthrough"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _shot(page: Any, shots: Path, name: str, full_page: bool = True) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ask(page: Any, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector('#answer[data-done="1"]', state="attached", timeout=ANSWER_TIMEOUT_MS)


def test_walkthrough(walk_app, live_server, page: Any, tmp_path: Path, shots: Path) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(walk_app)  # logged in as the admin through the login form
    errors = _errors(page)
    page.set_viewport_size({"width": 1280, "height": 860})

    # -- a new collection, and an upload with its live progress ---------------------------
    page.goto(base_url + "/collections/")
    page.fill('input[name="name"]', "projects")
    page.locator('input[name="name"]').press("Enter")
    page.wait_for_url(re.compile(r"/collections/projects$"))
    note = tmp_path / "kickoff.md"
    note.write_text(KICKOFF)
    page.set_input_files('#upload-form input[type="file"]', [str(note)])
    page.click('#upload-form button[type="submit"]')
    page.wait_for_selector("section.job", timeout=30_000)
    page.wait_for_selector("#documents >> text=kickoff.md", timeout=JOB_TIMEOUT_MS)
    assert page.locator("section.job progress").first.get_attribute("value") == "1"
    _shot(page, shots, "upload")

    # -- ask over several collections, chosen in the scope selector -----------------------
    page.goto(base_url + "/")
    assert page.locator("#scope-several").is_hidden()
    page.select_option("#collection", "+")
    assert page.locator("#scope-several").is_visible()
    assert page.evaluate("document.activeElement.name") == "collections"  # focus follows
    page.check('#scope-several input[value="handbook"]')
    page.check('#scope-several input[value="projects"]')
    requests: list[dict[str, Any]] = []
    page.on("request", lambda r: requests.append(r.post_data_json)
            if r.url.endswith("/api/v1/ask") else None)
    _ask(page, "Which room does a project kickoff book, and what is the meal allowance?")
    assert requests[-1]["collections"] == ["handbook", "projects"]
    sources = page.inner_text("#citations")
    assert "kickoff.md" in sources or "travel-and-expenses.pdf" in sources
    assert page.locator("#citations li").count() >= 1
    _shot(page, shots, "ask-several-collections")

    # -- follow up (same conversation, same scope), then thumbs down ----------------------
    _ask(page, "and for trips abroad?")
    assert "conversation_id" in requests[-1]
    conversation = requests[-1]["conversation_id"]
    assert requests[-1]["collections"] == ["handbook", "projects"]
    assert page.locator("#searched-for").is_visible()
    page.locator("#feedback").wait_for(state="visible")
    page.fill("#feedback-comment", "The allowance abroad is missing.")
    page.click("#thumbs-down")
    page.wait_for_selector('#feedback[data-rating="down"]', state="attached")

    # -- open a citation in its document --------------------------------------------------
    link = page.locator("#citations a.open-source").first
    if link.count():
        with page.context.expect_page() as opened:
            link.click()
        viewer = opened.value
        viewer.wait_for_load_state()
        assert "/sources/" in viewer.url
        assert viewer.locator("section.passage.current").count() == 1
        viewer.close()

    # -- the search page: passages only, matched words marked -----------------------------
    page.goto(base_url + "/search")
    page.select_option("#collection", "*")
    page.fill("#search-query", "kickoff codeword meal allowance")
    page.click("#search-button")
    page.wait_for_selector("#results li")
    marked = {m.lower() for m in page.locator("#results mark").all_inner_texts()}
    assert {"kickoff", "codeword"} <= marked and "allowance" in marked
    assert "handbook, projects" in page.inner_text("#search-status")
    assert page.locator("#collection").input_value() == "*"
    _shot(page, shots, "search", full_page=False)  # the first results
    href = page.get_attribute("#results a.open-source >> nth=0", "href")
    assert href and href.startswith("/sources/")

    # -- the conversation list: rename, permalink -----------------------------------------
    page.goto(base_url + "/conversations/")
    row = page.locator(f'tr[data-conversation="{conversation}"]')
    row.locator('input[name="title"]').fill("Kickoff and meals")
    row.locator("button", has_text="Rename").click()
    page.wait_for_selector(f'tr[data-conversation="{conversation}"] >> text=Kickoff and meals')
    page.locator(f'tr[data-conversation="{conversation}"] a.conversation-link').click()
    page.wait_for_url(re.compile(rf"/conversations/{conversation}$"))
    assert page.inner_text("#conversation-title") == "Kickoff and meals"
    assert page.locator("#turns li.turn").count() == 2
    _shot(page, shots, "conversation")
    page.click("#continue-conversation")  # the ask page reopens it, in its own scope
    page.wait_for_selector('#answer[data-history="1"]', state="attached")
    assert page.locator("#collection").input_value() == "+"
    assert page.locator('#scope-several input[value="projects"]').is_checked()

    # -- admin console: documents, re-ingest (a job), storage -----------------------------
    page.goto(base_url + "/admin/documents")
    table = page.locator('table[data-collection="projects"]')
    assert "kickoff.md" in table.inner_text()
    _shot(page, shots, "admin-documents")
    table.locator("button.reingest").first.click()
    page.wait_for_url(re.compile(r"/admin/jobs"))
    # the notice stays when the page reloads itself as the job finishes
    page.wait_for_selector("p.notice >> text=re-ingest queued as job")
    page.wait_for_selector('section.job[data-status="done"] >> text=kickoff.md',
                           timeout=JOB_TIMEOUT_MS)
    page.goto(base_url + "/admin/documents")
    row = page.locator('table[data-collection="projects"] tr', has_text="kickoff.md")
    assert row.locator("td").nth(2).inner_text() == "2"  # a new version
    page.goto(base_url + "/admin/storage")
    assert page.locator("#collection-stats tbody tr").count() == 2
    assert page.inner_text("#stat-vectors") == page.inner_text("#stat-chunks")
    _shot(page, shots, "admin-storage")
    assert not errors, errors
