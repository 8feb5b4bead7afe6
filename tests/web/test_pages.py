"""Server-rendered pages: ask page, collections, a collection with its upload form, errors.

Marked integration: the ``app`` fixture serves the handbook ingested with the real
embedding model.
"""

from __future__ import annotations

import io

import lxml.html
import pytest

from tests.web.conftest import table_rows

pytestmark = pytest.mark.integration

HANDBOOK_DOCS = ["it-security.html", "leave-policy.docx", "onboarding.md",
                 "travel-and-expenses.pdf"]


def _html(resp) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    assert resp.mimetype == "text/html"
    return lxml.html.fromstring(resp.get_data(as_text=True))


def _documents_by_name(html: str) -> dict[str, list[str]]:
    return {row[0]: row for row in table_rows(html, "documents")}


def test_ask_page(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/")
    assert resp.status_code == 200
    doc = _html(resp)
    options = doc.xpath('//select[@id="collection"]/option')
    # the scope: the one collection, or all you can read ("several" needs two)
    assert [o.get("value") for o in options] == ["handbook", "*"]
    assert options[0].get("selected") is not None
    assert doc.xpath('//form[@id="ask-form"]//input[@id="question"]')
    assert doc.xpath('//button[@id="ask-button"]')
    assert doc.xpath('//*[@id="answer"]') and doc.xpath('//*[@id="citations"]')
    assert doc.xpath('//script[@src="/static/ask.js"]')
    assert not doc.xpath("//script[not(@src)]"), "inline scripts would break the CSP"
    assert "No collections yet" not in resp.get_data(as_text=True)


def test_ask_page_selects_requested_collection(client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/collections", json={"name": "projects"}).status_code == 201
    doc = _html(client.get("/?collection=projects"))
    selected = doc.xpath('//select[@id="collection"]/option[@selected]')
    assert [o.get("value") for o in selected] == ["projects"]
    # an unknown collection falls back to an existing one
    doc = _html(client.get("/?collection=nope"))
    selected = [o.get("value") for o in doc.xpath('//select[@id="collection"]/option[@selected]')]
    assert len(selected) == 1 and selected[0] in {"handbook", "projects"}


def test_collections_page_lists_handbook(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/collections/")
    assert resp.status_code == 200
    doc = _html(resp)
    links = doc.xpath('//table//a[@href="/collections/handbook"]')
    assert [a.text_content() for a in links] == ["handbook"]
    row = links[0].getparent().getparent()
    assert [td.text_content().strip() for td in row.xpath("./td")] == ["handbook", "4"]
    assert doc.xpath('//form[@action="/collections/"]//input[@name="name"]')


def test_collections_page_create_with_bad_name(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/collections/", data={"name": "../x"})
    assert resp.status_code == 422
    assert "invalid collection name" in resp.get_data(as_text=True)
    ok = client.post("/collections/", data={"name": "projects"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/collections/projects")


def test_collection_page_shows_documents_and_upload_form(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/collections/handbook")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    docs = _documents_by_name(html)
    assert sorted(docs) == HANDBOOK_DOCS
    for row in docs.values():
        assert row[2] == "1" and row[3] == "ready" and int(row[4]) > 0
    assert docs["travel-and-expenses.pdf"][1] == "pdf"
    assert docs["travel-and-expenses.pdf"][5] == "3"

    doc = lxml.html.fromstring(html)
    [form] = doc.xpath('//form[@id="upload-form"]')
    assert form.get("method") == "post"
    assert form.get("enctype") == "multipart/form-data"
    assert form.get("action") == "/collections/handbook/upload"
    [file_input] = form.xpath('.//input[@type="file"]')
    assert file_input.get("name") == "files" and file_input.get("multiple") is not None
    assert ".pdf" in file_input.get("accept") and ".md" in file_input.get("accept")
    assert not doc.xpath('//table[@id="upload-results"]')


def _after_job(client, resp) -> str:  # type: ignore[no-untyped-def]
    """The upload form redirects to the collection page with ?job=N: wait for the job and
    return the page as a browser would show it after the live progress finished."""
    if resp.status_code == 422:  # every file refused up front: the page lists why
        return resp.get_data(as_text=True)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    location = resp.headers["Location"]
    job_id = int(location.rsplit("job=", 1)[1])
    done = client.application.extensions["enclave"].job_runner.wait(job_id, timeout=300)
    assert done["status"] in ("done", "failed")
    page = client.get(location)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_upload_broken_pdf_shows_failed_row(client) -> None:  # type: ignore[no-untyped-def]
    before = _documents_by_name(client.get("/collections/handbook").get_data(as_text=True))
    resp = client.post(
        "/collections/handbook/upload",
        data={"files": (io.BytesIO(b"not a pdf"), "broken.pdf")},
        content_type="multipart/form-data",
    )
    html = _after_job(client, resp)
    job = lxml.html.fromstring(html).xpath('//section[@class="job"]')[0]
    assert job.get("data-status") == "failed"
    [result] = [[td.text_content().strip() for td in tr.xpath("td")]
                for tr in job.xpath(".//tr")]
    assert result[0] == "broken.pdf" and result[1] == "failed"
    assert "not a valid PDF" in result[2]

    docs = _documents_by_name(html)
    failed = docs.pop("broken.pdf")
    assert "failed" in failed[3] and "not a valid PDF" in failed[3]
    assert failed[4] == "0"
    assert docs == before  # the other documents are listed exactly as before
    assert "Traceback" not in html

    # the failure is still shown after a reload, and the API counts it as failed
    again = _documents_by_name(client.get("/collections/handbook").get_data(as_text=True))
    assert "not a valid PDF" in again["broken.pdf"][3]
    coll = client.get("/api/v1/collections").get_json()["collections"][0]
    assert coll["documents"] == 4 and coll["failed"] == 1


def test_upload_form_without_files_is_400_html(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/collections/handbook/upload", data={},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert resp.mimetype == "text/html"
    assert "Choose at least one file" in resp.get_data(as_text=True)


def test_uploaded_file_name_is_escaped(client) -> None:  # type: ignore[no-untyped-def]
    name = '<img src=x onerror="alert(1)">.md'
    resp = client.post(
        "/collections/handbook/upload",
        data={"files": (io.BytesIO(b"# Note\n\nThe kettle is descaled every Friday.\n"), name)},
        content_type="multipart/form-data",
    )
    html = _after_job(client, resp)
    assert "<img" not in html
    assert "&lt;img src=x onerror=" in html
    assert not lxml.html.fromstring(html).xpath("//img")


def test_delete_form_removes_document(client) -> None:  # type: ignore[no-untyped-def]
    doc_id = next(d["id"] for d in client.get("/api/v1/collections/handbook/documents")
                  .get_json()["documents"] if d["name"] == "onboarding.md")
    resp = client.post(f"/collections/handbook/documents/{doc_id}/delete")
    assert resp.status_code == 302
    docs = _documents_by_name(client.get("/collections/handbook").get_data(as_text=True))
    assert sorted(docs) == [n for n in HANDBOOK_DOCS if n != "onboarding.md"]


def test_unknown_collection_is_html_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/collections/nope", headers={"Accept": "text/html"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    doc = _html(resp)
    assert doc.xpath("//h1")[0].text_content() == "Error 404"
    assert "no collection named 'nope'" in doc.xpath('//p[@class="error"]')[0].text_content()
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_unknown_page_is_html_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "Error 404" in resp.get_data(as_text=True)
