"""What parsing skips to be quick, and that what it reads does not change for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingest.parsers.unstructured import FastPdfParser, UnstructuredParser

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

MARKDOWN = """# Retries

Uploads are retried <!-- internal: twice --> when the server answers 503 & a < b.

- first item
- second item

```python
def handle(event):
    return upload(event, retries=2)
```
"""


def test_markdown_is_rendered_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Markdown file with ``<`` is rendered to look for hidden text; that HTML is what is
    partitioned (unstructured's partition_md rendered it a second time)."""
    import markdown

    calls: list[int] = []
    render = markdown.markdown

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return render(*args, **kwargs)

    monkeypatch.setattr(markdown, "markdown", counted)
    doc = tmp_path / "retries.md"
    doc.write_text(MARKDOWN, encoding="utf-8")
    blocks = UnstructuredParser().parse(doc, "md").blocks
    assert len(calls) == 1
    assert [(b.kind, b.text) for b in blocks] == [
        ("title", "Retries"),
        ("text", "Uploads are retried when the server answers 503 & a < b."),
        ("text", "first item"),
        ("text", "second item"),
        ("text", "def handle(event):\n    return upload(event, retries=2)"),
    ]


def test_html_paragraphs_skip_the_sentence_pipeline(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """unstructured's narrative-or-not check (sentence splitting, a verb test) is skipped in
    HTML, whose blocks are text either way; plain text keeps it, to find its titles."""
    from unstructured.nlp import tokenize

    parser = UnstructuredParser()
    parser.parse(_write(tmp_path / "warm.txt", "Warm up. It has a verb."), "txt")
    pipeline = tokenize._get_nlp
    runs: list[int] = []

    def counted():  # type: ignore[no-untyped-def]
        runs.append(1)
        return pipeline()

    monkeypatch.setattr(tokenize, "_get_nlp", counted)
    html = ("<html><body><h1>Travel</h1><p>The allowance is paid monthly by the office.</p>"
            "<p>VERSION 2.1 NOTES</p><p>• first bullet</p><p>help@example.org</p>"
            "</body></html>")
    blocks = parser.parse(_write(tmp_path / "travel.html", html), "html").blocks
    assert not runs
    assert [(b.kind, b.text) for b in blocks] == [
        ("title", "Travel"),
        ("text", "The allowance is paid monthly by the office."),
        ("text", "VERSION 2.1 NOTES"),
        ("text", "first bullet"),  # still a list item: its bullet is dropped
        ("text", "help@example.org"),
    ]
    text = "TRAVEL POLICY\n\nThe allowance is paid monthly by the office on request."
    blocks = parser.parse(_write(tmp_path / "travel.txt", text), "txt").blocks
    assert runs  # plain text still runs the check ...
    assert blocks[0].kind == "title"  # ... which finds its title


def test_the_pdfium_parser_does_not_load_unstructured_pdf() -> None:
    """The default parser reads PDFs with PDFium: its warm-up (the sandbox worker's start)
    leaves unstructured's PDF partitioner (pdfminer, unstructured_inference) unloaded. The
    worker is ready once the text formats are loaded; the office formats load after."""
    script = ("import sys\n"
              "sys.modules['torch'] = None  # as in the sandbox worker\n"
              "from config import configure_offline\n"
              "configure_offline()\n"
              "from ingest.parsers.unstructured import FastPdfParser\n"
              "parser = FastPdfParser()\n"
              "loaded = lambda: [name in sys.modules for name in ('unstructured.partition.md',"
              " 'unstructured.partition.docx', 'unstructured.partition.pdf')]\n"
              "parser.warm_up()\n"
              "print(*loaded())\n"
              "parser.warm_up_rest()\n"
              "print(*loaded())\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.strip().splitlines()[-2:] == ["True False False", "True True False"], out
    assert FastPdfParser._own_types == {"pdf"} and not UnstructuredParser._own_types


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
