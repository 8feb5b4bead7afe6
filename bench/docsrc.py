"""Shared helpers for the evaluation-set build scripts (``bench/build_*.py``) and their tests.

- Debian packages: fetch a pinned version (``apt-get download``), extract it (``dpkg-deb -x``),
  read its version and copyright file.
- Source documents: flatten HTML into headings / paragraphs / list items / code blocks
  (:func:`html_blocks`), split a block list into FAQ entries.
- Output formats, all deterministic (same input, same bytes): clean HTML (:func:`write_html`),
  minimal Office Open XML (:func:`write_docx`) and PDF through reportlab with the page of every
  block recorded (:func:`write_pdf`).
- Reading back: :func:`document_text` gives the text of a corpus file as the build scripts
  check the gold answers against (Markdown/text, HTML, DOCX; PDF through pypdf).
- Questions: :class:`EvalQuestion`, the deterministic tune/test split (:func:`split_for`) and
  the regression slice (:func:`make_slice`).

Everything but :func:`write_pdf` (reportlab) and PDF reading (pypdf) is standard library.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from bench.build_debian_faq import Element, normalise_ws, parse_html, slugify
from bench.splits import split_for

__all__ = [
    "Block", "EvalQuestion", "normalise_ws", "slugify", "split_for", "html_blocks",
    "write_html", "write_docx", "write_pdf", "document_text", "make_slice", "serialize_html",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO_ROOT / "bench" / "data"

# --------------------------------------------------------------------------------------------
# Questions and splits
# --------------------------------------------------------------------------------------------


@dataclass
class EvalQuestion:
    """One line of ``questions.jsonl``."""

    id: str
    question: str
    document: str | None
    gold: str
    answerable: bool
    section: str | None = None
    pages: list[int] | None = None  # PDF sets: 1-based pages holding the gold text
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def split(self) -> str:
        return split_for(self.id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "question": self.question, "document": self.document,
            "gold": self.gold, "answerable": self.answerable, "section": self.section,
        }
        if self.pages is not None:
            out["page"] = self.pages[0] if self.pages else None
            out["pages"] = self.pages
        out.update(self.extra)
        out["split"] = self.split
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def unanswerable(prefix: str, texts: Sequence[str], *, pdf: bool = False) -> list[EvalQuestion]:
    """Hand-written unanswerable questions, ids ``<prefix>-<n>`` in list order."""
    return [
        EvalQuestion(f"{prefix}-{i}", q, None, "", False, None, [] if pdf else None)
        for i, q in enumerate(texts, start=1)
    ]


def make_slice(
    questions: Sequence[EvalQuestion], n_answerable: int = 25, n_unanswerable: int = 5
) -> list[EvalQuestion]:
    """Deterministic subset: evenly strided answerable + unanswerable questions."""
    answerable = [q for q in questions if q.answerable]
    unanswerable_qs = [q for q in questions if not q.answerable]
    a_step = max(1, len(answerable) // n_answerable)
    u_step = max(1, len(unanswerable_qs) // n_unanswerable)
    return answerable[::a_step][:n_answerable] + unanswerable_qs[::u_step][:n_unanswerable]


def write_jsonl(path: Path, questions: Iterable[EvalQuestion]) -> None:
    path.write_text("".join(q.to_json() + "\n" for q in questions), encoding="utf-8")


def check_question_leaks(
    questions: Sequence[EvalQuestion], texts: dict[str, str]
) -> list[tuple[str, str]]:
    """(question id, document) for every answerable question text found verbatim in a document
    (whitespace-normalised, case-insensitive)."""
    normed = {name: normalise_ws(t).lower() for name, t in texts.items()}
    return [
        (q.id, name) for q in questions if q.answerable
        for name, t in normed.items() if normalise_ws(q.question).lower() in t
    ]


# --------------------------------------------------------------------------------------------
# Debian packages
# --------------------------------------------------------------------------------------------


def download(package: str, version: str, workdir: Path) -> Path:
    """``apt-get download <package>=<version>`` into ``workdir``; returns the .deb."""
    print(f"apt-get download {package}={version}", file=sys.stderr)
    subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=workdir, check=True)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise SystemExit(f"apt-get download produced no .deb for {package}")
    return debs[-1]


def materialise(source: Path, package: str, workdir: Path) -> Path:
    """An extracted package root for ``source`` (a .deb file or an extracted directory)."""
    if source.is_dir():
        return source
    if source.suffix != ".deb":
        raise SystemExit(f"{source}: expected a .deb file or an extracted directory")
    target = workdir / package
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(source), str(target)], check=True)
    return target


def fetch_package(package: str, version: str, given: Path | None, workdir: Path) -> Path:
    """The extracted root of ``given`` (.deb or directory), or of the pinned download."""
    source = given or download(package, version, workdir)
    return materialise(source, package, workdir / "extract")


def package_version(root: Path, package: str, doc_dir: str | None = None) -> str:
    """The version in ``usr/share/doc/<doc_dir or package>/changelog.Debian.gz``."""
    doc = root / "usr/share/doc" / (doc_dir or package)
    for name in ("changelog.Debian.gz", "changelog.gz"):
        path = doc / name
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                first = fh.readline()
            match = re.match(r"^\S+ \((?P<version>[^)]+)\)", first)
            if match:
                return match.group("version")
    raise ValueError(f"cannot read the version of {package} under {doc}")


def check_version(package: str, found: str, pinned: str) -> None:
    if found != pinned:
        print(f"warning: {package} {found} differs from pinned {pinned}", file=sys.stderr)


def package_copyright(root: Path, package: str) -> str:
    return (root / "usr/share/doc" / package / "copyright").read_text(encoding="utf-8")


def read_maybe_gz(path: Path) -> str:
    """Text of ``path`` or, when only ``path.gz`` exists, of that."""
    if path.exists():
        return path.read_text(encoding="utf-8")
    with gzip.open(path.with_name(path.name + ".gz"), "rt", encoding="utf-8") as fh:
        return fh.read()


# --------------------------------------------------------------------------------------------
# HTML -> blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One block of a document: ``heading`` (with ``level``), ``para``, ``item``, ``code``."""

    kind: str
    text: str
    level: int = 0


_HEADING_LEVEL = {f"h{i}": i for i in range(1, 7)}
_BLOCK_TAGS = frozenset({
    "p", "div", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr",
    "blockquote", "body", "html", "#root", "center", "form", "section", "article", "header",
    "footer", "main", "nav", "aside", "figure", "figcaption", "caption", "hr", "address",
})
_SKIP_TAGS = frozenset({"head", "script", "style", "title", "img", "colgroup", "col", "noscript"})


def _pre_text(node: Element | str) -> str:
    if isinstance(node, str):
        return node
    if node.tag == "br":
        return "\n"
    return "".join(_pre_text(c) for c in node.children)


def _clean_code(text: str) -> str:
    lines = [line.rstrip() for line in text.expandtabs(8).split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)


def html_blocks(root: Element, skip: Callable[[Element], bool] | None = None) -> list[Block]:
    """Flatten a parsed HTML tree into blocks. Inline markup becomes plain text; ``<pre>`` keeps
    its lines; table cells are joined with `` | ``. ``skip(el)`` drops an element and its
    content (navigation, tables of contents, ...)."""
    out: list[Block] = []
    run: list[str] = []
    state = {"item": False}

    def flush() -> None:
        text = normalise_ws("".join(run))
        run.clear()
        if text:
            out.append(Block("item" if state["item"] else "para", text))
            state["item"] = False

    def walk(node: Element) -> None:
        for child in node.children:
            if isinstance(child, str):
                run.append(child)
                continue
            tag = child.tag
            if tag in _SKIP_TAGS or (skip is not None and skip(child)):
                continue
            if tag == "pre":
                flush()
                code = _clean_code(_pre_text(child))
                if code:
                    out.append(Block("code", code))
            elif tag in _HEADING_LEVEL:
                flush()
                text = normalise_ws(_inline_text(child, skip))
                if text:
                    out.append(Block("heading", text, _HEADING_LEVEL[tag]))
            elif tag == "br":
                run.append(" ")
            elif tag in ("td", "th"):
                if normalise_ws("".join(run)):
                    run.append(" | ")
                walk(child)
            elif tag in _BLOCK_TAGS:
                flush()
                if tag == "li":
                    state["item"] = True
                walk(child)
                flush()
            else:
                walk(child)

    walk(root)
    flush()
    return out


def _inline_text(node: Element | str, skip: Callable[[Element], bool] | None) -> str:
    if isinstance(node, str):
        return node
    if node.tag in _SKIP_TAGS or (skip is not None and skip(node)):
        return ""
    return "".join(_inline_text(c, skip) for c in node.children)


def blocks_text(blocks: Sequence[Block]) -> str:
    """Whitespace-normalised text of blocks, in order (what gold answers are checked on)."""
    return normalise_ws(" ".join(b.text for b in blocks))


@dataclass
class Entry:
    """A FAQ entry: its heading (the question) and the blocks up to the next entry/chapter."""

    number: str | None
    title: str
    chapter: str
    blocks: list[Block]


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


def write_html(path: Path, title: str, blocks: Sequence[Block], lang: str = "en") -> None:
    """A plain, valid HTML5 page: ``<h1>`` title, headings, paragraphs, lists and ``<pre>``."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "</head>",
        "<body>",
    ]
    in_list = False
    for block in blocks:
        if block.kind == "item" and not in_list:
            parts.append("<ul>")
            in_list = True
        elif block.kind != "item" and in_list:
            parts.append("</ul>")
            in_list = False
        if block.kind == "heading":
            level = min(max(block.level, 1), 6)
            parts.append(f"<h{level}>{esc(block.text)}</h{level}>")
        elif block.kind == "code":
            parts.append(f"<pre>{esc(block.text)}</pre>")
        elif block.kind == "item":
            parts.append(f"<li>{esc(block.text)}</li>")
        else:
            parts.append(f"<p>{esc(block.text)}</p>")
    if in_list:
        parts.append("</ul>")
    parts += ["</body>", "</html>", ""]
    path.write_text("\n".join(parts), encoding="utf-8")


_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                        "source", "wbr"})


def serialize_html(root: Element, doctype: str = "<!DOCTYPE html>") -> str:
    """HTML text of a tree parsed with :func:`parse_html` (after edits). Comments are gone;
    text and attribute values are re-escaped."""
    out: list[str] = [doctype, "\n"] if doctype else []

    def emit(node: Element | str) -> None:
        if isinstance(node, str):
            out.append(html.escape(node, quote=False))
            return
        if node.tag == "#root":
            for child in node.children:
                emit(child)
            return
        attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in node.attrs.items())
        out.append(f"<{node.tag}{attrs}>")
        if node.tag in _VOID_TAGS:
            return
        for child in node.children:
            emit(child)
        out.append(f"</{node.tag}>")

    emit(root)
    return "".join(out)


def remove_elements(root: Element, drop: Callable[[Element], bool]) -> int:
    """Remove every element for which ``drop(el)`` is true (with its content)."""
    n = 0
    for el in list(root.iter_elements()):
        kept: list[Element | str] = []
        for child in el.children:
            if isinstance(child, Element) and drop(child):
                n += 1
            else:
                kept.append(child)
        el.children = kept
    return n


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_DOCX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_DOCX_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)


def _style(style_id: str, name: str, *, size: int, bold: bool = False, mono: bool = False,
           outline: int | None = None) -> str:
    """One paragraph style of ``styles.xml`` (sizes in half points)."""
    if outline is not None or style_id == "Title":  # headings and the title
        ppr = '<w:pPr><w:keepNext/><w:spacing w:before="240" w:after="80"/>'
        if outline is not None:
            ppr += f'<w:outlineLvl w:val="{outline}"/>'
        ppr += "</w:pPr>"
    elif mono:  # code: no space between lines, indented
        ppr = '<w:pPr><w:spacing w:after="0"/><w:ind w:left="360"/></w:pPr>'
    else:
        ppr = ""
    rpr = "<w:rPr>"
    if mono:
        rpr += '<w:rFonts w:ascii="Courier New" w:hAnsi="Courier New"/>'
    if bold:
        rpr += "<w:b/>"
    rpr += f'<w:sz w:val="{size}"/></w:rPr>'
    return (f'<w:style w:type="paragraph" w:styleId="{style_id}"><w:name w:val="{name}"/>'
            f'<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>{ppr}{rpr}'
            "</w:style>")


_DOCX_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:styles xmlns:w="{_W_NS}">'
    '<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/>'
    '<w:sz w:val="22"/><w:lang w:val="en-US"/></w:rPr></w:rPrDefault>'
    '<w:pPrDefault><w:pPr><w:spacing w:after="120"/></w:pPr></w:pPrDefault></w:docDefaults>'
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
    "<w:qFormat/></w:style>"
    + _style("Title", "Title", size=40, bold=True)
    + _style("Heading1", "heading 1", size=32, bold=True, outline=0)
    + _style("Heading2", "heading 2", size=26, bold=True, outline=1)
    + _style("Heading3", "heading 3", size=24, bold=True, outline=2)
    + _style("ListBullet", "List Bullet", size=22)
    + _style("Code", "Code", size=18, mono=True)
    + "</w:styles>"
)


def _w_runs(text: str) -> str:
    """Runs for ``text``; newlines become ``<w:br/>`` (one paragraph per code block)."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        if i:
            out.append("<w:br/>")
        if line:
            out.append(f'<w:t xml:space="preserve">{html.escape(line, quote=False)}</w:t>')
    return "<w:r>" + "".join(out) + "</w:r>"


def _w_para(text: str, style: str | None) -> str:
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{ppr}{_w_runs(text)}</w:p>"


def write_docx(path: Path, title: str, blocks: Sequence[Block]) -> None:
    """A minimal, valid .docx (document, styles, core properties): a ``Title`` paragraph, then
    ``Heading N`` / ``Normal`` / ``List Bullet`` / ``Code`` paragraphs. Byte-for-byte
    deterministic (fixed zip timestamps, fixed member order)."""
    body = [_w_para(title, "Title")]
    for block in blocks:
        if block.kind == "heading":
            body.append(_w_para(block.text, f"Heading{min(max(block.level - 1, 1), 3)}"))
        elif block.kind == "code":
            body.append(_w_para(block.text, "Code"))
        elif block.kind == "item":
            body.append(_w_para(block.text, "ListBullet"))
        else:
            body.append(_w_para(block.text, None))
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{_W_NS}"><w:body>' + "".join(body)
        + '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1440" '
        'w:bottom="1440" w:left="1440" w:header="708" w:footer="708" w:gutter="0"/>'
        "</w:sectPr></w:body></w:document>"
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{html.escape(title, quote=False)}</dc:title></cp:coreProperties>"
    )
    members = [
        ("[Content_Types].xml", _DOCX_CONTENT_TYPES),
        ("_rels/.rels", _DOCX_RELS),
        ("word/_rels/document.xml.rels", _DOCX_DOC_RELS),
        ("word/document.xml", document),
        ("word/styles.xml", _DOCX_STYLES),
        ("docProps/core.xml", core),
    ]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data.encode("utf-8"))


def docx_paragraphs(path: Path) -> list[str]:
    """Paragraph texts of a .docx (``<w:br/>`` as a newline), standard library only."""
    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read("word/document.xml"))
    w = "{" + _W_NS + "}"
    out = []
    for p in root.iter(w + "p"):
        parts = []
        for el in p.iter():
            if el.tag == w + "t":
                parts.append(el.text or "")
            elif el.tag in (w + "br", w + "cr"):
                parts.append("\n")
            elif el.tag == w + "tab":
                parts.append("\t")
        out.append("".join(parts))
    return out


# -- PDF ---------------------------------------------------------------------------------------

#: Characters the standard PDF fonts (WinAnsi) cannot show, with their ASCII stand-ins.
_PDF_CHARS = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--",
    "\u2026": "...", "\u00a0": " ", "\u2022": "-", "\u2212": "-", "\u00ad": "",
})


def pdf_safe(text: str) -> str:
    """``text`` restricted to characters the standard PDF fonts can show (others -> ``?``)."""
    text = text.translate(_PDF_CHARS)
    return "".join(c if (c in "\n\t" or 32 <= ord(c) < 127 or 160 <= ord(c) < 256) else "?"
                   for c in text)


def wrap_code(text: str, width: int) -> str:
    """Hard-wrap code lines longer than ``width`` (at a space when possible)."""
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", width // 2, width)
            cut = cut if cut > 0 else width
            out.append(line[:cut].rstrip())
            line = "  " + line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def write_pdf(path: Path, title: str, blocks: Sequence[Block], *, author: str = "",
              footer: str = "") -> list[list[int]]:
    """Render ``blocks`` to a multi-page A4 PDF with reportlab (Helvetica body, Courier code,
    ``footer — page N`` at the bottom). Texts must already be :func:`pdf_safe` and code
    wrapped (:func:`wrap_code`, 88 columns). Returns, for every block, the 1-based pages it was
    drawn on. Deterministic (reportlab ``invariant`` mode)."""
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, Preformatted, SimpleDocTemplate

    pages: list[set[int]] = [set() for _ in blocks]

    class Doc(SimpleDocTemplate):
        def afterFlowable(self, flowable: Any) -> None:  # noqa: N802 (reportlab's name)
            bid = getattr(flowable, "block_id", None)
            if bid is not None:
                pages[bid].add(self.page)

    def tagged(cls: type) -> type:
        class Tagged(cls):  # type: ignore[misc, valid-type]
            block_id: int | None = None

            def split(self, *args: Any, **kwargs: Any) -> list[Any]:
                parts = super().split(*args, **kwargs)
                for part in parts:
                    part.block_id = self.block_id
                return parts
        return Tagged

    para_cls, pre_cls = tagged(Paragraph), tagged(Preformatted)
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=11, leading=15,
                          spaceAfter=6, alignment=TA_LEFT)
    item = ParagraphStyle("item", parent=body, leftIndent=14, bulletIndent=4, spaceAfter=3)
    code = ParagraphStyle("code", fontName="Courier", fontSize=8.5, leading=10.5,
                          leftIndent=12, spaceBefore=2, spaceAfter=8)
    heads = {
        1: ParagraphStyle("h1", parent=body, fontName="Helvetica-Bold", fontSize=18,
                          leading=22, spaceBefore=12, spaceAfter=10),
        2: ParagraphStyle("h2", parent=body, fontName="Helvetica-Bold", fontSize=14,
                          leading=18, spaceBefore=14, spaceAfter=8),
        3: ParagraphStyle("h3", parent=body, fontName="Helvetica-Bold", fontSize=12,
                          leading=15, spaceBefore=10, spaceAfter=6),
    }
    story = []
    for i, block in enumerate(blocks):
        esc = html.escape(block.text, quote=False)
        if block.kind == "code":
            fl = pre_cls(block.text, code)
        elif block.kind == "heading":
            fl = para_cls(esc, heads[min(max(block.level, 1), 3)])
        elif block.kind == "item":
            fl = para_cls(esc, item, bulletText="-")
        else:
            fl = para_cls(esc, body)
        fl.block_id = i
        story.append(fl)

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(A4[0] / 2, 1.2 * cm, f"{footer} - page {doc.page}".strip(" -"))
        canvas.restoreState()

    doc = Doc(str(path), pagesize=A4, leftMargin=2.2 * cm, rightMargin=2.2 * cm,
              topMargin=2.2 * cm, bottomMargin=2.2 * cm, title=title, author=author,
              creator="Enclave bench", producer="reportlab", subject=title, invariant=1)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return [sorted(p) for p in pages]


# --------------------------------------------------------------------------------------------
# Reading corpus files back
# --------------------------------------------------------------------------------------------


def pdf_page_texts(path: Path) -> list[str]:
    """Text of every page (pypdf), in order."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def document_text(path: Path) -> str:
    """Whitespace-normalised text of a corpus file, as the gold answers are checked on:
    Markdown/text as is, HTML through :func:`html_blocks`, DOCX paragraphs, PDF pages (pypdf,
    so only approximately what was drawn)."""
    suffix = path.suffix.lower()
    if suffix in (".md", ".txt"):
        return normalise_ws(path.read_text(encoding="utf-8"))
    if suffix in (".html", ".htm"):
        return blocks_text(html_blocks(parse_html(path)))
    if suffix == ".docx":
        return normalise_ws(" ".join(docx_paragraphs(path)))
    if suffix == ".pdf":
        return normalise_ws(" ".join(pdf_page_texts(path)))
    raise ValueError(f"no text reader for {path}")


# --------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------


def fmt_size(n_bytes: int) -> str:
    return f"{n_bytes / 1024:.1f} KiB" if n_bytes < 1024 * 1024 \
        else f"{n_bytes / 1024 / 1024:.2f} MiB"


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def reset_corpus(out: Path) -> Path:
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    return corpus


def write_slice_corpus(out: Path, slice_qs: Sequence[EvalQuestion],
                       distractors: Sequence[str]) -> list[str]:
    """``corpus-slice.txt``: the documents a slice run ingests (the slice's gold documents plus
    a fixed list of distractors), one file name per line, sorted."""
    names = sorted({q.document for q in slice_qs if q.document} | set(distractors))
    for name in names:
        assert (out / "corpus" / name).is_file(), f"slice corpus: {name} missing"
    (out / "corpus-slice.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    return names


def license_notice(title: str, derivation: str,
                   packages: Sequence[tuple[str, str, str, Path]], tail: str = "") -> str:
    """LICENSE-NOTICE.md text: what was derived how, then every package's copyright file
    verbatim. ``packages`` is ``(package, version, description, extracted root)``."""
    parts = [f"# Licence notice for the {title} retrieval dataset", "", derivation, "",
             "The copyright and permission notices of the packages are reproduced verbatim "
             "below, as they require.", ""]
    for package, version, _desc, root in packages:
        parts += [f"## {package} {version}: `/usr/share/doc/{package}/copyright`", "", "```text",
                  package_copyright(root, package).rstrip("\n"), "```", ""]
    if tail:
        parts += [tail, ""]
    return "\n".join(parts)


def question_stats(questions: Sequence[EvalQuestion]) -> dict[str, int]:
    ans = [q for q in questions if q.answerable]
    una = [q for q in questions if not q.answerable]
    return {
        "answerable": len(ans), "unanswerable": len(una),
        "answerable_tune": sum(q.split == "tune" for q in ans),
        "answerable_test": sum(q.split == "test" for q in ans),
        "unanswerable_tune": sum(q.split == "tune" for q in una),
        "unanswerable_test": sum(q.split == "test" for q in una),
    }
