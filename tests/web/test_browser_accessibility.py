"""Usable by everyone (issue 16): every page checked with axe-core in the browser, at desktop and
phone width; the ask page used with the keyboard only; nothing loaded from anywhere else.

axe-core comes from the ``axe-playwright-python`` package (requirements-dev.txt), which bundles
``axe.min.js``: it is injected into the page from the installed package, never from a CDN.
Screenshots of each page go to ``$ENCLAVE_ARTIFACTS/accessibility`` when that is set (CI keeps
them), else to the test's ``tmp_path``; the best ones are copied into ``docs/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ADMIN_PASSWORD, login
from tests.web.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

QUESTION = "What is the daily meal allowance?"
ANSWER_TIMEOUT_MS = 120_000
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# WCAG 2.0/2.1 level A and AA rules, plus axe's best practices (landmarks, heading order, ...).
AXE_OPTIONS = {
    "runOnly": {"type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")


@pytest.fixture
def a11y_app(extractive_handbook_app):  # type: ignore[no-untyped-def]
    """The handbook app answering extractively (tests/web/conftest.py)."""
    return extractive_handbook_app


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where the screenshots go: ``$ENCLAVE_ARTIFACTS/accessibility`` or ``tmp_path``."""
    root = os.environ.get("ENCLAVE_ARTIFACTS")
    folder = Path(root) / "accessibility" if root else tmp_path / "accessibility"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now.

    Text in the colour of its background is only "incomplete" for axe (it may be hidden on
    purpose); here it is a serious contrast violation (the header's Log out button was)."""
    from axe_playwright_python.sync_playwright import Axe

    response = Axe().run(page, options=AXE_OPTIONS).response
    violations = list(response["violations"])
    for result in response["incomplete"]:
        invisible = [n for n in result["nodes"] if result["id"] == "color-contrast"
                     and any((c.get("data") or {}).get("messageKey") == "equalRatio"
                             for c in n["any"])]
        if invisible:
            violations.append({**result, "impact": "serious", "nodes": invisible,
                               "help": "Text in its background's colour (contrast 1:1)"})
    return violations


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:4]]
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['help']} — {targets}")
    return "\n".join(lines)


def _ask(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector('#answer[data-done="1"]', state="attached", timeout=ANSWER_TIMEOUT_MS)


def _prepare(app: Any, page: Any, base_url: str, share: Path) -> None:
    """Data on every page: a rated answer, a synced folder and its finished ingest job."""
    _ask(page, base_url)
    page.locator("#feedback").wait_for(state="visible")
    page.fill("#feedback-comment", "The allowance for trips abroad is missing.")
    page.click("#thumbs-down")
    page.wait_for_selector('#feedback[data-rating="down"]', state="attached")

    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    made = client.post("/api/v1/admin/sources", json={
        "collection": "handbook", "path": str(share), "restrictions": {"/hr/": ["hr"]}})
    assert made.status_code == 201, made.get_json()
    synced = client.post(f"/api/v1/admin/sources/{made.get_json()['id']}/sync")
    assert synced.status_code == 202, synced.get_json()
    job = app.extensions["enclave"].job_runner.wait(synced.get_json()["job_id"], timeout=120)
    assert job["status"] == "done", job


def _check(page: Any, name: str, size: str, artifacts: Path,
           found: dict[str, list[dict[str, Any]]], too_wide: list[str]) -> None:
    """axe on the page, the phone-width overflow check, a screenshot."""
    page.wait_for_load_state("load")
    violations = _axe(page)
    found[name] = violations
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 1:  # the page itself scrolls sideways (a wide table scrolls on its own)
        too_wide.append(f"{name}: {overflow}px wider than the {size} screen")
    # every script, stylesheet, image, font, frame or media the page refers to is our own
    # (the requests are checked too; this also catches what was not fetched, e.g. preconnects)
    origins = page.evaluate("""() => [...document.querySelectorAll(
            'script[src], link[href], img[src], iframe[src], source[src], video[src], audio[src]')]
        .map(e => new URL(e.getAttribute('src') || e.getAttribute('href'), document.baseURI).origin)""")
    own = page.evaluate("location.origin")
    assert set(origins) <= {own}, f"{name} refers to another origin: {set(origins) - {own}}"
    shot = artifacts / f"{name}-{size}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_pages_pass_axe_and_load_nothing_from_elsewhere(  # type: ignore[no-untyped-def]
    size: str, a11y_app, live_server, chromium_browser, share: Path, artifacts: Path
) -> None:
    base_url = live_server(a11y_app)
    own = urlsplit(base_url)
    context = chromium_browser.new_context(service_workers="block", viewport=VIEWPORTS[size])
    context.set_default_timeout(30_000)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    found: dict[str, list[dict[str, Any]]] = {}
    too_wide: list[str] = []
    try:
        page = context.new_page()
        page.goto(base_url + "/login")
        _check(page, "login", size, artifacts, found, too_wide)
        browser_login(page, base_url, a11y_app)

        _prepare(a11y_app, page, base_url, share)
        _ask(page, base_url)  # the ask page with an answer, its sources and the rating buttons
        page.locator("#feedback").wait_for(state="visible")
        _check(page, "ask", size, artifacts, found, too_wide)
        source_href = page.get_attribute("#cite-1 a.open-source", "href")
        assert source_href

        pages = {
            "source": source_href,
            "collections": "/collections/",
            "collection": "/collections/handbook",  # upload form, ingest jobs, documents
            "admin": "/admin/",  # users, access, synced folders, audit, evidence
            "admin-feedback": "/admin/feedback",
            "admin-documents": "/admin/documents",  # re-ingest and delete per document
            "admin-jobs": "/admin/jobs",
            "admin-storage": "/admin/storage",
            "search": "/search?q=meal+allowance&collection=%2A",  # matched words marked
            "conversations": "/conversations/",  # rename, delete, links
            "conversation": "/conversations/1",  # the first answer's thread (the admin's)
            "account": "/account",
            "api-docs": "/api/v1/docs",
        }
        for name, path in pages.items():
            page.goto(base_url + path if path.startswith("/") else path)
            if name == "api-docs":
                page.locator(".opblock").first.wait_for()
            if name == "collection":
                page.locator("section.job").first.wait_for()
            if name == "admin":
                assert str(share) in page.inner_text("#sources")
            if name == "admin-feedback":
                assert page.locator("#feedback tbody tr").count() >= 1
            if name == "search":
                assert page.locator("#results mark").count() >= 1
            if name == "conversation":
                assert page.locator("#turns li.turn").count() >= 1
            _check(page, name, size, artifacts, found, too_wide)
    finally:
        context.close()

    (artifacts / f"axe-{size}.json").write_text(json.dumps(
        {name: [{k: v[k] for k in ("id", "impact", "help", "tags")} | {"nodes": len(v["nodes"])}
                for v in vs] for name, vs in found.items()}, indent=1))
    blocking = {name: [v for v in vs if v["impact"] in BLOCKING] for name, vs in found.items()}
    report = "\n".join(f"{name}:\n{_describe(vs)}" for name, vs in blocking.items() if vs)
    assert not report, f"axe-core found serious or critical violations ({size}):\n{report}"
    assert not too_wide, too_wide

    assert requests
    for url in requests:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", own.port), \
            f"a page loaded something from elsewhere: {url}"


def _stored(app: Any, evidence: int) -> tuple[str, str] | None:
    from db.models import AnswerFeedback

    with app.extensions["enclave"].stack.sessions() as db:
        row = db.get(AnswerFeedback, evidence)
        return None if row is None else (row.rating, row.comment)


def test_ask_with_the_keyboard_only(a11y_app, live_server, page: Any) -> None:  # type: ignore[no-untyped-def]
    """Tab from the top of the ask page to the question, type it, Enter; then reach the
    answer's rating buttons with Tab. Every focused control shows a visible focus ring."""
    base_url = live_server(a11y_app)
    page.goto(base_url + "/")

    def focus_ring() -> dict[str, Any]:
        return dict(page.evaluate("""() => {
            const el = document.activeElement, style = getComputedStyle(el);
            return {id: el.id, tag: el.tagName.toLowerCase(), text: (el.innerText || '').trim(),
                    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
                    shadow: style.boxShadow !== 'none'};
        }"""))

    def tab_to(element_id: str, limit: int = 30) -> list[dict[str, Any]]:
        seen = []
        for _ in range(limit):
            page.keyboard.press("Tab")
            state = focus_ring()
            seen.append(state)
            assert state["outline"] or state["shadow"], f"no visible focus on {state}"
            if state["id"] == element_id:
                return seen
        raise AssertionError(f"#{element_id} not reached with Tab: {seen}")

    visited = tab_to("question")
    assert "collection" in [s["id"] for s in visited], visited  # the scope, before the question
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector('#answer[data-done="1"]', state="attached", timeout=ANSWER_TIMEOUT_MS)
    assert "travel-and-expenses.pdf" in page.inner_text("#citations")

    evidence = int(page.get_attribute("#feedback", "data-evidence"))
    tab_to("thumbs-down")
    page.keyboard.press("Enter")
    page.wait_for_selector('#feedback[data-rating="down"]', state="attached")
    assert page.get_attribute("#thumbs-down", "aria-pressed") == "true"

    tab_to("feedback-comment")
    page.keyboard.type("Trips abroad are missing.")
    tab_to("feedback-send")
    page.keyboard.press("Enter")
    for _ in range(100):
        if _stored(a11y_app, evidence) == ("down", "Trips abroad are missing."):
            break
        page.wait_for_timeout(100)
    assert _stored(a11y_app, evidence) == ("down", "Trips abroad are missing.")
