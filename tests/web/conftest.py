"""Web-test helpers: SSE parsing, HTML tables, a live server in a thread, a real browser."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from flask import Flask

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# -- helpers ------------------------------------------------------------------------------
def parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` pairs of a server-sent-events body."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data_lines = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data_lines.append(line[len("data: "):])
        assert name is not None and data_lines, f"malformed SSE block: {block!r}"
        events.append((name, json.loads("\n".join(data_lines))))
    return events


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Text of each cell of each body row of ``<table id=table_id>``."""
    doc = lxml.html.fromstring(html)
    tables = doc.xpath(f'//table[@id="{table_id}"]')
    assert tables, f"no table with id {table_id!r} in the page"
    return [
        [" ".join(td.text_content().split()) for td in tr.xpath("./td")]
        for tr in tables[0].xpath("./tbody/tr")
    ]


def add_collection(app: Flask, name: str, group: str, documents: dict[str, bytes]) -> None:
    """Collection ``name``, readable by ``group``, with ``documents`` ingested (through the API,
    as an admin ``admin``, created if the app has none)."""
    import io

    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection
    from services.accounts import get_user
    from tests.conftest import ADMIN_PASSWORD, make_token, make_user

    sessions = app.extensions["enclave"].stack.sessions
    with sessions() as db:
        has_admin = get_user(db, "admin") is not None
    if not has_admin:
        make_user(app, "admin", "admin", password=ADMIN_PASSWORD)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'admin')}"}
    created = client.post("/api/v1/collections", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.get_json()
    with sessions() as db:
        get_or_create_group(db, group)
        grant_collection(db, get_collection(db, name).id, group, "read")
        db.commit()
    for filename, data in documents.items():
        resp = client.post(f"/api/v1/collections/{name}/documents?wait=1", headers=headers,
                           data={"files": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["results"][0]["error"] is None, resp.get_json()


# -- live server --------------------------------------------------------------------------
def browser_login(page: Any, base_url: str, app: Flask, username: str = "admin",
                  password: str | None = None) -> None:
    """Log the browser in through the login form (creating the admin if needed)."""
    from services.accounts import get_user
    from tests.conftest import ADMIN_PASSWORD, make_user

    if password is None:
        password = ADMIN_PASSWORD
        with app.extensions["enclave"].stack.sessions() as db:
            exists = get_user(db, username) is not None
        if not exists:
            make_user(app, username, "admin", password=password)
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)



@pytest.fixture
def live_server(request: pytest.FixtureRequest) -> Iterator[Callable[[Flask], str]]:
    """Factory: serve a Flask app on 127.0.0.1 (free port) from a thread; returns its base URL.

    When the test also uses the ``page`` fixture, the browser is logged in as the admin
    through the real login form first (the admin is created if the app has none).
    Every server started is shut down when the test ends.
    """
    from werkzeug.serving import make_server

    started: list[tuple[Any, threading.Thread]] = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
        thread.start()
        started.append((server, thread))
        base_url = f"http://127.0.0.1:{server.server_port}"
        if "page" in request.fixturenames:
            browser_login(request.getfixturevalue("page"), base_url, app)
        return base_url

    yield start
    for server, thread in started:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# -- browser ------------------------------------------------------------------------------
def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    reasons = []
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        reasons.append(f"chromium is not installed at {CHROMIUM} (run `make system-deps`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        reasons.append(f"playwright cannot be imported ({exc}; install requirements-dev.txt)")
    return "; ".join(reasons) or None


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    reason = browser_unavailable_reason()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (default timeout 30 s)."""
    context = chromium_browser.new_context(service_workers="block")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """A folder to sync (a top-level file and one in hr/), for the synced-folder tests."""
    folder = tmp_path / "share"
    (folder / "hr").mkdir(parents=True)
    (folder / "desk.md").write_text("# Desk\n\nHot desks are booked a day ahead.\n")
    (folder / "hr" / "leave.md").write_text("# Leave\n\nLeave requests go to HR.\n")
    return folder


@pytest.fixture
def extractive_handbook_app(handbook_copy: Path) -> Iterator[Flask]:
    """The app over a copy of the handbook, answering extractively (no LLM: fast, same answer
    every run)."""
    from tests.conftest import _client_class, make_settings
    from web import create_app, start

    application = start(create_app(make_settings(handbook_copy,
                                                 generation={"mode": "extractive"})))
    application.config["TESTING"] = True
    application.test_client_class = _client_class()
    yield application
    application.extensions["enclave"].close()
