"""Uploads in a real browser: the job panel shows live progress, failures and a retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import browser_unavailable_reason

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(browser_unavailable_reason() is not None,
                       reason=browser_unavailable_reason() or ""),
]


def test_upload_shows_job_progress_and_retry(app, live_server, page: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base_url = live_server(app)
    good = tmp_path / "canteen.md"
    good.write_text("# Canteen\n\nThe canteen serves lunch from 11:30 to 14:00.\n")
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 this file is damaged")
    page.goto(base_url + "/collections/handbook")
    page.set_input_files('#upload-form input[type="file"]', [str(good), str(bad)])
    page.click('#upload-form button[type="submit"]')
    # the job panel appears at once and is updated live until the job finishes
    page.wait_for_selector("section.job", timeout=30_000)
    page.wait_for_selector('section.job[data-status="failed"]', timeout=180_000)
    job = page.locator("section.job").first
    text = job.inner_text()
    assert "canteen.md" in text and "added" in text
    assert "scan.pdf" in text and "damaged" in text
    assert job.locator("progress").get_attribute("value") == "2"
    # the new document is listed once the job is done (the page reloads itself)
    page.wait_for_selector("#documents >> text=canteen.md", timeout=30_000)
    # retry the failed file: a new job appears for it
    page.locator("section.job button.job-retry").first.click()
    page.locator("section.job").nth(1).wait_for(timeout=30_000)
    jobs = app.extensions["enclave"].job_runner.list("handbook")
    assert jobs[0]["source"] == "retry" and jobs[0]["files"][0]["name"] == "scan.pdf"
    page.screenshot(path=str(tmp_path / "jobs.png"), full_page=True)
    assert (tmp_path / "jobs.png").stat().st_size > 0
