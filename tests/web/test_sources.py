"""Source viewer routes: rendered PDF pages of uploaded originals, the passage-in-context view,
the text fallback for documents without a stored original, and 404s."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import lxml.html
import pytest

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _upload(client: Any, name: str, data: bytes, collection: str) -> dict[str, Any]:
    resp = client.post(
        f"/api/v1/collections/{collection}/documents?wait=1",
        data={"files": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    [result] = resp.get_json()["results"]
    assert result["status"] == "added", result
    return result


def _search(client: Any, query: str, collection: str) -> list[dict[str, Any]]:
    resp = client.post("/api/v1/search", json={"query": query, "collection": collection, "k": 5})
    assert resp.status_code == 200
    return resp.get_json()["hits"]


def _handbook_hit(client: Any, document: str, query: str) -> dict[str, Any]:
    hit = next(h for h in _search(client, query, "handbook") if h["document"] == document)
    return hit


@pytest.fixture
def uploaded_pdf(client: Any, sample_corpus: Path) -> dict[str, Any]:
    """The handbook's travel PDF uploaded through the API (so its original is stored)."""
    data = (sample_corpus / "travel-and-expenses.pdf").read_bytes()
    return _upload(client, "travel-uploaded.pdf", data, "uploads")


def test_pdf_page_of_an_uploaded_document_is_rendered(client: Any, uploaded_pdf: dict) -> None:
    doc_id = uploaded_pdf["document_id"]
    resp = client.get(f"/sources/{doc_id}/page/2.png")
    assert resp.status_code == 200
    assert resp.mimetype == "image/png"
    assert resp.data[:8] == PNG_MAGIC and len(resp.data) > 5000
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    from PIL import Image

    image = Image.open(io.BytesIO(resp.data))
    assert image.width >= 800 and image.height > image.width  # a portrait page

    assert client.get(f"/sources/{doc_id}/page/99.png").status_code == 404
    assert client.get(f"/sources/{doc_id}/page/0.png").status_code == 404


def test_passage_view_of_an_uploaded_pdf_shows_the_page_image(client: Any,
                                                               uploaded_pdf: dict) -> None:
    hit = next(h for h in _search(client, "daily meal allowance", "uploads")
               if h["document"] == "travel-uploaded.pdf")
    text = hit["text"]  # the passage; start/end in the link are document offsets
    start = text.index("The daily meal allowance")
    end = text.index(".", start) + 1
    at = hit["char_start"]
    resp = client.get(f"/sources/{hit['chunk_id']}?start={at + start}&end={at + end}")
    assert resp.status_code == 200
    doc = lxml.html.fromstring(resp.data)
    assert doc.get_element_by_id("source-document").text_content() == "travel-uploaded.pdf"
    assert "page 2" in doc.get_element_by_id("source-page").text_content()
    [mark] = doc.xpath("//section[contains(@class, 'current')]//mark")
    assert mark.text_content() == text[start:end]
    [img] = doc.xpath("//img[@id='page-image']")
    assert img.get("src") == f"/sources/{hit['document_id']}/page/2.png"
    assert client.get(img.get("src")).status_code == 200


def test_passage_view_shows_neighbours_and_highlights_the_chunk(client: Any) -> None:
    hit = _handbook_hit(client, "leave-policy.docx", "secondary caregiver parental leave")
    resp = client.get(f"/sources/{hit['chunk_id']}")
    assert resp.status_code == 200
    doc = lxml.html.fromstring(resp.data)
    sections = doc.xpath("//section[contains(@class, 'passage')]")
    assert len(sections) >= 2  # the chunk and at least one neighbour
    [current] = doc.xpath("//section[contains(@class, 'current')]")
    assert current.get("id") == f"passage-{hit['chunk_id']}"
    # without a span the whole matched chunk is marked (the hit's text is its passage)
    chunk = client.get(f"/api/v1/chunks/{hit['chunk_id']}").get_json()
    assert " ".join(current.xpath(".//mark")[0].text_content().split()) == " ".join(
        chunk["text"].split())
    assert chunk["text"] in hit["text"]
    assert doc.get_element_by_id("source-document").text_content() == "leave-policy.docx"
    if hit["heading_path"]:
        assert hit["heading_path"] in doc.get_element_by_id("source-heading").text_content()
    assert not doc.xpath("//img[@id='page-image']")  # no stored original of a CLI ingest


def test_page_image_falls_back_to_the_text_view_without_a_stored_original(client: Any) -> None:
    hit = _handbook_hit(client, "travel-and-expenses.pdf", "daily meal allowance")
    assert hit["page"] == 2
    resp = client.get(f"/sources/{hit['document_id']}/page/2.png")
    assert resp.status_code == 302
    target = resp.headers["Location"]
    assert re.fullmatch(r"(http://localhost)?/sources/\d+", target), target
    page = client.get(target)
    assert page.status_code == 200 and b"travel-and-expenses.pdf" in page.data
    assert client.get(f"/sources/{hit['document_id']}/page/42.png").status_code == 404


def test_unknown_ids_are_404(client: Any) -> None:
    assert client.get("/sources/999999").status_code == 404
    assert client.get("/sources/999999/page/1.png").status_code == 404
    assert client.get("/sources/abc").status_code == 404


def test_bad_span_is_ignored_and_text_is_escaped(client: Any) -> None:
    result = _upload(client, "markup.txt",
                     b"The locker code is <b>7731</b> & <script>window.x=1</script> done.\n",
                     "uploads")
    hit = next(h for h in _search(client, "locker code", "uploads")
               if h["document_id"] == result["document_id"])
    resp = client.get(f"/sources/{hit['chunk_id']}?start=50&end=9999")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<script>window.x=1</script>" not in body and "&lt;script&gt;" in body
    doc = lxml.html.fromstring(resp.data)
    assert not doc.xpath("//b") and not doc.xpath("//section//script")
