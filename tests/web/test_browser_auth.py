"""Logging in, administering access and logging out in a real browser (Debian's chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import USER_PASSWORD, make_user
from tests.web.conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_admin_grants_access_and_the_reader_sees_it(app, live_server, page: Any, chromium_browser) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)  # the page is logged in as the admin through the login form
    cookie = next(c for c in page.context.cookies() if c["name"] == "enclave_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"

    make_user(app, "rita", "reader", ("staff",))
    reader_ctx = chromium_browser.new_context(service_workers="block")
    reader = reader_ctx.new_page()
    try:
        browser_login(reader, base_url, app, "rita", USER_PASSWORD)
        reader.goto(base_url + "/collections/")
        assert "No collections yet." in reader.inner_text("table")  # nothing granted yet

        # The admin grants the staff group read access on the admin page.
        page.goto(base_url + "/admin/")
        page.select_option("#grant-form select[name=collection]", "handbook")
        page.fill("#grant-form input[name=group]", "staff")
        page.select_option("#grant-form select[name=level]", "read")
        page.click("#grant-form button[type=submit]")
        page.locator("p.notice").wait_for()
        assert "staff: read" in page.inner_text("#grants")
        assert "grant.change" in page.inner_text("#audit")

        # The reader's very next request sees the collection, without upload or delete buttons.
        reader.goto(base_url + "/collections/handbook")
        assert "travel-and-expenses.pdf" in reader.inner_text("#documents")
        assert reader.locator("#upload-form").count() == 0
        assert reader.locator("#documents button.danger").count() == 0
        assert reader.locator("a[href='/admin/']").count() == 0
        reader.goto(base_url + "/admin/")
        assert "Only administrators" in reader.content()

        # Logging out ends the session; the back button does not bring the pages back.
        reader.click("#logout")
        reader.wait_for_url(lambda url: url.endswith("/login"))
        reader.goto(base_url + "/collections/handbook")
        assert "/login?next=" in reader.url
    finally:
        reader_ctx.close()


def test_wrong_password_shows_a_message(app, chromium_browser, live_server) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)
    ctx = chromium_browser.new_context(service_workers="block")
    try:
        pg = ctx.new_page()
        pg.goto(base_url + "/collections/")
        assert "/login?next=" in pg.url
        pg.fill("input[name=username]", "admin")
        pg.fill("input[name=password]", "not-the-password")
        pg.click("#login-form button[type=submit]")
        assert pg.inner_text("#login-error") == "Wrong user name or password."
    finally:
        ctx.close()
