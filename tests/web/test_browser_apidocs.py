"""The API reference page in a real browser: rendered offline, strict CSP, "Try it out" works."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_api_reference_renders_offline_and_calls_the_api(app, live_server, page: Any) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)  # logged in as the admin through the login form
    console: list[str] = []
    hosts: set[str] = set()
    page.on("console", lambda msg: console.append(msg.text))
    page.on("request", lambda req: hosts.add(urlsplit(req.url).netloc))

    page.goto(base_url + "/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    operations = page.locator(".opblock").count()
    assert operations >= 25, operations
    assert "Enclave API" in page.inner_text(".information-container")

    # "Try it out" on GET /api/v1/collections answers as the logged-in user.
    block = page.locator("#operations-library-collections")
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    block.locator(".responses-table .response .response-col_status").first.wait_for()
    assert "handbook" in block.locator(".live-responses-table").inner_text()

    assert hosts == {urlsplit(base_url).netloc}, hosts  # nothing fetched from anywhere else
    blocked = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert not blocked, blocked
