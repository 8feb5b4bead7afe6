#!/usr/bin/env python3
"""Build the Debian-FAQ retrieval evaluation dataset.

The dataset is derived from two Debian documentation packages:

* ``debian-faq`` -- The Debian GNU/Linux FAQ.  Every FAQ chapter becomes one
  corpus document (``corpus/faq-<slug>.md``) with the *question headings
  removed*; the answers stay in their original order.  Every question heading
  becomes one evaluation question whose gold answer is the text of that
  question's section.
* ``debian-reference-en`` -- The Debian Reference (English).  Every chapter
  becomes one distractor document (``corpus/ref-<slug>.md``).

In addition a fixed, hand-written list of *unanswerable* questions (questions
the corpus cannot answer) is appended to the question set.

Outputs (under ``--out``, default ``bench/data/debian_faq``)::

    corpus/faq-*.md            FAQ chapters, question headings removed
    corpus/ref-*.md            Debian Reference chapters (distractors)
    questions.jsonl            all questions (answerable + unanswerable)
    questions-slice.jsonl      deterministic ~30-question subset
    LICENSE-NOTICE.md          upstream copyright / licence texts
    README.md                  regeneration instructions and statistics

Inputs are either the ``.deb`` files or directories into which they have been
extracted with ``dpkg-deb -x``.  Without arguments the pinned package versions
are fetched with ``apt-get download`` into a temporary directory.

Only the Python standard library is used (HTML is parsed with
``html.parser``).  Output is deterministic for a given pair of inputs.

Usage::

    python bench/build_debian_faq.py
    python bench/build_debian_faq.py --faq debian-faq_11.1_all.deb \\
        --ref debian-reference-en_2.100_all.deb
    python bench/build_debian_faq.py --faq /tmp/extract/debian-faq \\
        --ref /tmp/extract/debian-reference-en
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.splits import split_for  # noqa: E402

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

FAQ_PACKAGE = "debian-faq"
REF_PACKAGE = "debian-reference-en"
#: Versions the committed data was built from (Debian 12 "bookworm").
PINNED_VERSIONS: dict[str, str] = {FAQ_PACKAGE: "11.1", REF_PACKAGE: "2.100"}

FAQ_HTML_DIR = Path("usr/share/doc/debian/FAQ")
REF_HTML_DIR = Path("usr/share/debian-reference")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "data" / "debian_faq"

#: Answers shorter than this (after whitespace normalisation) are skipped.
MIN_GOLD_CHARS = 40
#: Size of the regression slice.
SLICE_ANSWERABLE = 25
SLICE_UNANSWERABLE = 5

#: Hand-written questions that neither the FAQ nor the Debian Reference
#: answers.  The first block is "near-domain" (Debian / Linux / IT flavoured),
#: the second is off-domain.  Order is part of the dataset: append only.
UNANSWERABLE_QUESTIONS: tuple[str, ...] = (
    # -- near-domain ------------------------------------------------------
    "How do I edit the Windows registry to stop the UAC prompt from appearing?",
    "On what date was Ian Murdock, the founder of Debian, born?",
    "How many people attended DebConf23 in Kochi, India?",
    "How do I define a Kubernetes CustomResourceDefinition with a status subresource?",
    "What does a Red Hat Enterprise Linux Premium subscription cost per server per year?",
    "Which NVIDIA driver version is required for an RTX 4090 on Windows 11?",
    "How do I write a Helm chart that deploys PostgreSQL with persistent volumes?",
    "How do I attach an AWS IAM role to an EKS node group?",
    "How do I upgrade the IOS XE firmware on a Cisco Catalyst 9300 switch?",
    "How do I configure Microsoft Exchange ActiveSync on an iPhone?",
    "What is the maximum number of vCPUs supported by a VMware ESXi 8 virtual machine?",
    "How do I migrate an Oracle Database 19c schema to Microsoft SQL Server?",
    "What is the phone number of the Debian project's headquarters office?",
    "How do I enable Apple FileVault disk encryption on macOS Sonoma?",
    "What is the default administrator password of a Ubiquiti UniFi Dream Machine?",
    # -- off-domain -------------------------------------------------------
    "What are the opening hours of Luigi's Trattoria on Main Street on Sundays?",
    "What is the boiling point of ethanol at sea level in degrees Celsius?",
    "Who won the 2018 FIFA World Cup final?",
    "How many calories are in a butter croissant?",
    "What is the current exchange rate between the euro and the Japanese yen?",
    "How do I file an income tax return in Germany as a freelancer?",
    "What is the recommended tyre pressure for a 2015 Toyota Corolla?",
    "How long should I boil an egg to get a soft yolk?",
    "How do I create a pivot table in Microsoft Excel?",
    "What is the maximum payload of a SpaceX Falcon 9 rocket to low Earth orbit?",
    "When is the best season to plant tulip bulbs?",
    "How much does a one-way train ticket from Paris to Lyon cost?",
    "What is the plot of Herman Melville's novel Moby-Dick?",
    "Which vaccines does a puppy need in its first year?",
    "What is the recommended daily intake of vitamin D for adults?",
)

# --------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")
_NUMBERED_TITLE_RE = re.compile(r"^(?P<num>(?:\d+|[A-Z])(?:\.\d+)*)\.\s+(?P<text>.+)$", re.S)
_CHAPTER_TITLE_RE = re.compile(r"^(?:Chapter|Appendix)\s+(?P<num>\w+)\.\s+(?P<text>.+)$", re.S)
_HTML_TAG_RE = re.compile(
    r"</?(?:a|p|div|span|code|em|strong|ul|ol|li|dl|dt|dd|pre|table|tr|td|th|br|img|sup|h[1-6])"
    r"(?:\s[^<>]*)?/?>"
)
_XREF_QUESTION_RE = re.compile(
    r"^(?P<ref>(?:Section|Chapter)\s+[\dA-Z.]+),\s*“(?P<title>.*)”$", re.S
)


def normalise_ws(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return _WS_RE.sub(" ", text).strip()


def slugify(text: str) -> str:
    """Lower-case ASCII slug: ``"GNU/Linux tutorials"`` -> ``"gnu-linux-tutorials"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "untitled"


def split_number(title: str) -> tuple[str | None, str]:
    """Split ``"3.1.2. Foo?"`` into ``("3.1.2", "Foo?")``."""
    match = _NUMBERED_TITLE_RE.match(title)
    if match:
        return match.group("num"), normalise_ws(match.group("text"))
    return None, title


def is_question(title: str) -> bool:
    """A FAQ section heading is a question when it contains a question mark."""
    return "?" in title


# --------------------------------------------------------------------------
# Minimal DOM built with html.parser
# --------------------------------------------------------------------------

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Element:
    """A very small DOM element."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter_elements(self) -> Iterable[Element]:
        """Depth-first iteration over this element and all descendants."""
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter_elements()

    def find(self, tag: str, cls: str | None = None) -> Element | None:
        for el in self.iter_elements():
            if el.tag == tag and (cls is None or cls in el.classes):
                return el
        return None

    def text(self) -> str:
        """All descendant text, concatenated (no whitespace handling)."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return "".join(parts)


class _DomBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root")
        self.stack: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: (v or "") for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in VOID_TAGS:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        # Pop to the matching open element; ignore stray end tags.
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(path: Path) -> Element:
    builder = _DomBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    return builder.root


# --------------------------------------------------------------------------
# DocBook HTML -> Markdown-ish plain text
# --------------------------------------------------------------------------

SKIP_TAGS = frozenset({"head", "script", "style", "img", "colgroup", "col", "title"})
SKIP_CLASSES = frozenset({"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures"})
ADMONITION_CLASSES = ("note", "tip", "warning", "caution", "important")
SECTION_CLASSES = frozenset(
    {"section", "chapter", "appendix", "preface", "sect1", "sect2", "sect3"}
)
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "pre",
        "table",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "body",
        "html",
        "#root",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "center",
        "form",
        "section",
    }
)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


class Renderer:
    """Render DocBook-generated XHTML into readable Markdown-ish text.

    Inline markup is dropped (plain text), paragraphs are separated by blank
    lines, lists use ``-`` / ``1.`` markers, ``<pre>`` blocks are indented by
    four spaces, tables become Markdown tables.
    """

    def __init__(self, *, drop_question_xref_titles: bool) -> None:
        self.drop_question_xref_titles = drop_question_xref_titles

    # -- inline -------------------------------------------------------------
    def inline(self, node: Element | str) -> str:
        """Raw inline text of a node (whitespace not yet collapsed)."""
        if isinstance(node, str):
            return node
        if node.tag in SKIP_TAGS or node.classes & SKIP_CLASSES:
            return ""
        if node.tag == "br":
            return " "
        text = "".join(self.inline(c) for c in node.children)
        if node.tag == "a" and "xref" in node.classes and self.drop_question_xref_titles:
            # "Section 7.6, “What is a ...?”" -> "Section 7.6" (no question leak).
            match = _XREF_QUESTION_RE.match(normalise_ws(text))
            if match and is_question(match.group("title")):
                return match.group("ref")
        return text

    def pre_text(self, node: Element | str) -> str:
        if isinstance(node, str):
            return node
        if node.tag == "br":
            return "\n"
        return "".join(self.pre_text(c) for c in node.children)

    # -- blocks -------------------------------------------------------------
    def blocks(self, node: Element) -> list[str]:
        """Render the *children* of ``node`` as a list of text blocks."""
        out: list[str] = []
        run: list[str] = []

        def flush() -> None:
            text = normalise_ws("".join(run))
            if text:
                out.append(text)
            run.clear()

        for child in node.children:
            if isinstance(child, str):
                run.append(child)
                continue
            if child.tag in SKIP_TAGS or child.classes & SKIP_CLASSES:
                continue
            if child.tag in BLOCK_TAGS:
                flush()
                out.extend(self.block(child))
            else:
                run.append(self.inline(child))
        flush()
        return out

    def block(self, node: Element) -> list[str]:
        """Render one block-level element as a list of text blocks."""
        tag, classes = node.tag, node.classes
        if tag == "hr":
            return []
        if tag == "pre":
            code = self.pre_text(node).strip("\n")
            code = "\n".join(line.rstrip() for line in code.expandtabs(8).split("\n"))
            return [_indent(code, "    ")] if code.strip() else []
        if tag in ("ul", "ol"):
            return self.list_block(node, ordered=(tag == "ol"))
        if tag == "table":
            return self.table_block(node)
        if tag == "div" and classes & set(ADMONITION_CLASSES):
            return self.admonition_block(node)
        if tag == "div" and "footnote" in classes:
            return self.blocks(node)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = normalise_ws(self.inline(node))
            return [text] if text else []
        if tag == "dt":
            text = normalise_ws(self.inline(node))
            return [text] if text else []
        if tag == "dd":
            return [_indent(b, "  ") for b in self.blocks(node)]
        return self.blocks(node)

    def list_block(self, node: Element, *, ordered: bool) -> list[str]:
        items: list[str] = []
        number = int(node.attrs.get("start", "1") or 1) if ordered else 0
        for child in node.children:
            if not isinstance(child, Element) or child.tag != "li":
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            sub = self.blocks(child)
            if not sub:
                continue
            pad = " " * len(marker)
            first = marker + _indent(sub[0], pad)[len(pad) :] if sub[0] else marker
            rest = [_indent(b, pad) for b in sub[1:]]
            items.append("\n\n".join([first, *rest]))
        # A list is one block; items separated by a single newline unless an
        # item itself spans several paragraphs.
        loose = any("\n\n" in item for item in items)
        return ["\n\n".join(items) if loose else "\n".join(items)] if items else []

    def admonition_block(self, node: Element) -> list[str]:
        """DocBook note/tip/warning: a layout table with an icon and a title."""
        kind = next(c for c in ADMONITION_CLASSES if c in node.classes)
        title_el = node.find("th") or node.find("h3") or node.find("h2")
        title = normalise_ws(self.inline(title_el)) if title_el else kind.capitalize()
        body: list[str] = []
        content_cells = [el for el in node.iter_elements() if el.tag == "td" and not el.find("img")]
        if content_cells:
            for cell in content_cells:
                body.extend(self.blocks(cell))
        else:  # non-table admonition markup
            for child in node.children:
                if isinstance(child, Element) and child.tag in ("h2", "h3", "h4"):
                    continue
                body.extend(self.blocks(Element("div", children=[child])))
        if not body:
            return [f"{title}:"]
        if body[0].startswith("    "):  # code block first: keep title separate
            return [f"{title}:", *body]
        return [f"{title}: {body[0]}", *body[1:]]

    def table_block(self, node: Element) -> list[str]:
        rows: list[list[str]] = []
        header_rows = 0
        for el in node.iter_elements():
            if el.tag != "tr":
                continue
            cells = [c for c in el.children if isinstance(c, Element) and c.tag in ("td", "th")]
            texts = [normalise_ws(" ".join(self.blocks(c))).replace("|", "\\|") for c in cells]
            if not any(texts):
                continue
            if all(c.tag == "th" for c in cells) and len(rows) == header_rows:
                header_rows += 1
            rows.append(texts)
        if not rows:
            return []
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        lines = ["| " + " | ".join(r) + " |" for r in rows]
        lines.insert(max(header_rows, 1), "| " + " | ".join(["---"] * width) + " |")
        return ["\n".join(lines)]


# --------------------------------------------------------------------------
# DocBook section tree
# --------------------------------------------------------------------------


@dataclass
class Section:
    """A DocBook section: heading plus an ordered list of blocks / subsections."""

    title: str
    number: str | None
    anchor: str | None
    depth: int  # 0 = chapter
    items: list[str | Section] = field(default_factory=list)

    @property
    def own_blocks(self) -> list[str]:
        """Text blocks that precede the first subsection."""
        out: list[str] = []
        for item in self.items:
            if isinstance(item, Section):
                break
            out.append(item)
        return out

    def walk(self) -> Iterable[Section]:
        yield self
        for item in self.items:
            if isinstance(item, Section):
                yield from item.walk()


def _section_heading(div: Element, renderer: Renderer) -> tuple[str, str | None]:
    titlepage = next(
        (c for c in div.children if isinstance(c, Element) and "titlepage" in c.classes), None
    )
    if titlepage is None:
        return "", None
    heading = next(
        (el for el in titlepage.iter_elements() if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6")),
        None,
    )
    if heading is None:
        return "", None
    anchor_el = heading.find("a")
    anchor = anchor_el.attrs.get("id") if anchor_el is not None else None
    return normalise_ws(renderer.inline(heading)), anchor or div.attrs.get("id")


def build_section(div: Element, renderer: Renderer, depth: int) -> Section:
    raw_title, anchor = _section_heading(div, renderer)
    chapter = _CHAPTER_TITLE_RE.match(raw_title)
    if chapter:
        number, title = chapter.group("num"), raw_title
    else:
        number, title = split_number(raw_title)
    section = Section(title=title, number=number, anchor=anchor, depth=depth)
    for child in div.children:
        if isinstance(child, str):
            if child.strip():
                section.items.extend(renderer.blocks(Element("div", children=[child])))
            continue
        if "titlepage" in child.classes or child.tag in SKIP_TAGS or child.classes & SKIP_CLASSES:
            continue
        if child.tag == "div" and child.classes & SECTION_CLASSES:
            section.items.append(build_section(child, renderer, depth + 1))
        else:
            section.items.extend(
                renderer.block(child)
                if child.tag in BLOCK_TAGS
                else renderer.blocks(Element("div", children=[child]))
            )
    return section


def load_chapter(path: Path, renderer: Renderer) -> Section:
    root = parse_html(path)
    body = root.find("body")
    assert body is not None, f"no <body> in {path}"
    top = next(
        (el for el in body.iter_elements() if el.tag == "div" and el.classes & SECTION_CLASSES),
        None,
    )
    assert top is not None, f"no chapter <div> in {path}"
    return build_section(top, renderer, depth=0)


# --------------------------------------------------------------------------
# Dataset construction
# --------------------------------------------------------------------------


@dataclass
class Question:
    id: str
    question: str
    document: str | None
    gold: str
    answerable: bool
    section: str | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "question": self.question,
                "document": self.document,
                "gold": self.gold,
                "answerable": self.answerable,
                "section": self.section,
                "split": split_for(self.id),
            },
            ensure_ascii=False,
        )


@dataclass
class Dropped:
    section: str | None
    question: str
    reason: str


@dataclass
class Document:
    name: str
    text: str


def _heading(section: Section) -> str:
    hashes = "#" * min(section.depth + 1, 6)
    if section.depth == 0 or section.number is None:
        return f"{hashes} {section.title}"
    return f"{hashes} {section.number}. {section.title}"


def render_faq_chapter(chapter: Section) -> str:
    """Chapter text with question headings removed (answers kept in order)."""
    parts: list[str] = []

    def emit(section: Section) -> None:
        if section.depth == 0 or not is_question(section.title):
            parts.append(_heading(section))
        for item in section.items:
            if isinstance(item, Section):
                emit(item)
            else:
                parts.append(item)

    emit(chapter)
    return "\n\n".join(parts).rstrip() + "\n"


def render_ref_chapter(chapter: Section) -> str:
    parts: list[str] = []

    def emit(section: Section) -> None:
        parts.append(_heading(section))
        for item in section.items:
            if isinstance(item, Section):
                emit(item)
            else:
                parts.append(item)

    emit(chapter)
    return "\n\n".join(parts).rstrip() + "\n"


def _chapter_sort_key(chapter: Section) -> tuple[int, str]:
    num = chapter.number or ""
    return (int(num), "") if num.isdigit() else (10_000, num)


def build_faq(faq_root: Path) -> tuple[list[Document], list[Question], list[Dropped]]:
    html_dir = faq_root / FAQ_HTML_DIR
    renderer = Renderer(drop_question_xref_titles=True)
    chapters: list[tuple[Section, str]] = []
    for path in sorted(html_dir.glob("*.en.html")):
        if path.is_symlink() or path.name == "index.en.html":
            continue
        slug = path.name.removesuffix(".en.html")
        chapters.append((load_chapter(path, renderer), slug))
    chapters.sort(key=lambda cs: _chapter_sort_key(cs[0]))

    documents: list[Document] = []
    questions: list[Question] = []
    dropped: list[Dropped] = []
    all_question_titles: list[str] = []
    for chapter, slug in chapters:
        name = f"faq-{slug}.md"
        text = render_faq_chapter(chapter)
        norm_doc = normalise_ws(text)
        documents.append(Document(name, text))
        for section in chapter.walk():
            if section.depth == 0 or not is_question(section.title):
                continue
            all_question_titles.append(section.title)
            tail = section.items[len(section.own_blocks) :]
            if any(isinstance(i, str) for i in tail):
                raise AssertionError(f"text after subsections in {section.number}")
            gold = normalise_ws(" ".join(section.own_blocks))
            if len(gold) < MIN_GOLD_CHARS:
                dropped.append(
                    Dropped(section.number, section.title, f"answer text only {len(gold)} chars")
                )
                continue
            assert gold in norm_doc, f"gold of {section.number} not found in {name}"
            questions.append(
                Question(
                    id=f"faq-{len(questions) + 1}",
                    question=section.title,
                    document=name,
                    gold=gold,
                    answerable=True,
                    section=section.number,
                )
            )

    # No question heading may survive anywhere in the FAQ corpus.
    for doc in documents:
        norm_doc = normalise_ws(doc.text)
        for title in all_question_titles:
            assert title not in norm_doc, f"question text {title!r} leaked into {doc.name}"
    return documents, questions, dropped


def build_ref(ref_root: Path) -> list[Document]:
    html_dir = ref_root / REF_HTML_DIR
    renderer = Renderer(drop_question_xref_titles=False)
    docs: list[tuple[tuple[int, str], Document]] = []
    for path in sorted(html_dir.glob("*.en.html")):
        if path.name == "index.en.html":  # table of contents only
            continue
        chapter = load_chapter(path, renderer)
        match = _CHAPTER_TITLE_RE.match(chapter.title)
        slug = slugify(match.group("text") if match else chapter.title)
        order = (-1, "") if path.name.startswith("pr") else _chapter_sort_key(chapter)
        docs.append((order, Document(f"ref-{slug}.md", render_ref_chapter(chapter))))
    docs.sort(key=lambda od: od[0])
    names = [d.name for _, d in docs]
    assert len(names) == len(set(names)), f"duplicate reference slugs: {names}"
    return [d for _, d in docs]


def unanswerable_questions() -> list[Question]:
    return [
        Question(
            id=f"unans-{i}", question=q, document=None, gold="", answerable=False, section=None
        )
        for i, q in enumerate(UNANSWERABLE_QUESTIONS, start=1)
    ]


def make_slice(questions: Sequence[Question]) -> list[Question]:
    """Deterministic subset: evenly strided answerable + unanswerable questions."""
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    a_step = max(1, len(answerable) // SLICE_ANSWERABLE)
    u_step = max(1, len(unanswerable) // SLICE_UNANSWERABLE)
    return answerable[::a_step][:SLICE_ANSWERABLE] + unanswerable[::u_step][:SLICE_UNANSWERABLE]


# --------------------------------------------------------------------------
# Package handling
# --------------------------------------------------------------------------


def package_version(root: Path, package: str) -> str:
    """Read the version from ``usr/share/doc/<pkg>/changelog.gz`` (first line)."""
    changelog = root / "usr/share/doc" / package / "changelog.gz"
    with gzip.open(changelog, "rt", encoding="utf-8") as fh:
        first = fh.readline()
    match = re.match(r"^\S+ \((?P<version>[^)]+)\)", first)
    if not match:
        raise ValueError(f"cannot parse version from {changelog}: {first!r}")
    return match.group("version")


def package_copyright(root: Path, package: str) -> str:
    return (root / "usr/share/doc" / package / "copyright").read_text(encoding="utf-8")


def materialise(source: Path, package: str, workdir: Path) -> Path:
    """Return an extracted package root for ``source`` (a .deb or a directory)."""
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


def download(package: str, workdir: Path) -> Path:
    """Fetch the pinned version of ``package`` with ``apt-get download``."""
    spec = f"{package}={PINNED_VERSIONS[package]}"
    print(f"apt-get download {spec}", file=sys.stderr)
    subprocess.run(["apt-get", "download", spec], cwd=workdir, check=True)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise SystemExit(f"apt-get download produced no .deb for {package}")
    return debs[-1]


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def _fmt_size(n_bytes: int) -> str:
    return (
        f"{n_bytes / 1024:.1f} KiB" if n_bytes < 1024 * 1024 else f"{n_bytes / 1024 / 1024:.2f} MiB"
    )


def write_license_notice(
    out: Path, faq_root: Path, ref_root: Path, versions: dict[str, str]
) -> None:
    parts = [
        "# Licence notice for the Debian FAQ retrieval dataset",
        "",
        "The files under `corpus/` and the `question`/`gold` fields of "
        "`questions.jsonl` and `questions-slice.jsonl` are derived from the "
        "following Debian packages:",
        "",
        f"- `{FAQ_PACKAGE}` version {versions[FAQ_PACKAGE]} (The Debian GNU/Linux FAQ)",
        f"- `{REF_PACKAGE}` version {versions[REF_PACKAGE]} (Debian Reference, English)",
        "",
        "Derivation: the English XHTML chapters shipped in these packages were "
        "converted to plain Markdown-style text by `bench/build_debian_faq.py` "
        "(markup, navigation and tables of contents removed). In the FAQ "
        "chapters the question headings were removed from the documents and "
        "used as evaluation questions, with the text of each question's section "
        "as the gold answer; cross-reference titles that repeat a question were "
        "shortened to the section number. Apart from the format conversion, "
        "the Debian Reference chapters are unmodified. The unanswerable "
        "questions were written by hand for this dataset and are not part of "
        "either package.",
        "",
        "The copyright and permission notices of both packages are reproduced "
        "verbatim below, as they require.",
        "",
    ]
    for package, root in ((FAQ_PACKAGE, faq_root), (REF_PACKAGE, ref_root)):
        parts += [
            f"## {package} {versions[package]}: `/usr/share/doc/{package}/copyright`",
            "",
            "```text",
            package_copyright(root, package).rstrip("\n"),
            "```",
            "",
        ]
    parts += [
        "The GNU General Public License version 2 referred to above is available "
        "at `/usr/share/common-licenses/GPL-2` on Debian systems and at "
        "<https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt>.",
        "",
    ]
    (out / "LICENSE-NOTICE.md").write_text("\n".join(parts), encoding="utf-8")


def question_leaks(
    questions: Sequence[Question], docs: Sequence[Document]
) -> list[tuple[str, str, str]]:
    """(question id, question, document) for question texts occurring in ``docs``."""
    normed = [(d.name, normalise_ws(d.text)) for d in docs]
    return [
        (q.id, q.question, name)
        for q in questions
        if q.answerable
        for name, text in normed
        if q.question in text
    ]


def _row(item: str, count: int, n_bytes: int) -> str:
    return f"| {item} | {count} | {_fmt_size(n_bytes)} |"


def write_readme(
    out: Path,
    faq_docs: Sequence[Document],
    ref_docs: Sequence[Document],
    questions: Sequence[Question],
    slice_qs: Sequence[Question],
    dropped: Sequence[Dropped],
    versions: dict[str, str],
) -> None:
    def size(path: Path) -> int:
        return path.stat().st_size

    corpus = out / "corpus"
    faq_bytes = sum(size(corpus / d.name) for d in faq_docs)
    ref_bytes = sum(size(corpus / d.name) for d in ref_docs)
    other = ["questions.jsonl", "questions-slice.jsonl", "LICENSE-NOTICE.md"]
    other_bytes = {name: size(out / name) for name in other}
    total = faq_bytes + ref_bytes + sum(other_bytes.values())
    n_ans = sum(q.answerable for q in questions)
    n_unans = len(questions) - n_ans
    s_ans = sum(q.answerable for q in slice_qs)

    lines = [
        "# Debian FAQ retrieval evaluation dataset",
        "",
        "Retrieval / question-answering benchmark built from Debian's "
        f"`{FAQ_PACKAGE}` ({versions[FAQ_PACKAGE]}) package, with the chapters "
        f"of `{REF_PACKAGE}` ({versions[REF_PACKAGE]}) as distractor documents. "
        "Licences: see [LICENSE-NOTICE.md](LICENSE-NOTICE.md).",
        "",
        "## Regenerating",
        "",
        "```sh",
        "python bench/build_debian_faq.py          # runs apt-get download for the pinned versions",
        "# or, with local packages (.deb files or dpkg-deb -x directories):",
        "python bench/build_debian_faq.py --faq debian-faq_11.1_all.deb \\",
        "    --ref debian-reference-en_2.100_all.deb",
        "```",
        "",
        "The script uses only the Python standard library plus `dpkg-deb` "
        "(and `apt-get` when downloading). Output is deterministic.",
        "",
        "## Contents",
        "",
        "| item | count | size |",
        "| --- | --- | --- |",
        _row(
            "`corpus/faq-*.md` (FAQ chapters, question headings removed)", len(faq_docs), faq_bytes
        ),
        _row(
            "`corpus/ref-*.md` (Debian Reference chapters, distractors)", len(ref_docs), ref_bytes
        ),
        _row(
            f"`questions.jsonl` ({n_ans} answerable + {n_unans} unanswerable)",
            len(questions),
            other_bytes["questions.jsonl"],
        ),
        _row(
            f"`questions-slice.jsonl` ({s_ans} answerable + {len(slice_qs) - s_ans} unanswerable)",
            len(slice_qs),
            other_bytes["questions-slice.jsonl"],
        ),
        _row("`LICENSE-NOTICE.md`", 1, other_bytes["LICENSE-NOTICE.md"]),
        f"| **total** (excluding this README) | | {_fmt_size(total)} |",
        "",
        "## Corpus",
        "",
        "Each document is one chapter rendered as Markdown-style plain text: "
        "`#` chapter title, `##`/`###` section headings, `-` lists, "
        "four-space-indented code blocks and Markdown tables. No HTML, "
        "navigation or tables of contents.",
        "",
        "In the `faq-*.md` documents every section heading that is a question "
        "(contains `?`) has been removed; the answer paragraphs remain in their "
        "original order. Non-question headings (e.g. `8.1.1. dpkg`, "
        "`16.1. Authors`) are kept. Cross-references that quote a question "
        "title (`Section 7.6, “What is ...?”`) are shortened to the section "
        "number (`Section 7.6`).",
        "",
        "## Question schema (`questions.jsonl`, one JSON object per line)",
        "",
        "| field | meaning |",
        "| --- | --- |",
        "| `id` | `faq-<n>` (answerable, FAQ order) or `unans-<n>` (unanswerable) |",
        "| `question` | FAQ question heading text, section number stripped;"
        " hand-written for unanswerable |",
        "| `document` | corpus file name (e.g. `faq-basic-defs.md`) holding the answer;"
        " `null` if unanswerable |",
        '| `gold` | whitespace-normalised answer text; `""` if unanswerable |',
        "| `answerable` | `true` / `false` |",
        '| `section` | FAQ section number (e.g. `"3.1.2"`); `null` if unanswerable |',
        "| `split` | `tune` or `test` (`tune` when the SHA-1 of the id is even; "
        "`bench/splits.py`) |",
        "",
        "The gold answer is the text of the question's section *before its first "
        "sub-section*. It is guaranteed (asserted by the build script) to occur "
        "verbatim in the whitespace-normalised text "
        '(`" ".join(text.split())`) of `document`. For the few questions whose '
        "answer continues in non-question sub-sections (e.g. 8.1 → 8.1.1 dpkg, "
        "8.1.2 APT, ...), the gold is the introductory part only; answers that "
        "continue in *question* sub-sections are separate questions.",
        "",
        f"Questions whose answer text is shorter than {MIN_GOLD_CHARS} characters "
        "are skipped. The unanswerable questions are hand-written: half are "
        "near-domain (IT / Debian-adjacent topics not covered by either "
        "package), half are off-domain.",
        "",
        "`questions-slice.jsonl` is a deterministic subset for fast regression "
        f"tests: every k-th answerable question (k = answerable // {SLICE_ANSWERABLE}) "
        f"up to {SLICE_ANSWERABLE}, plus every k-th unanswerable question up to "
        f"{SLICE_UNANSWERABLE}.",
        "",
        "## Skipped FAQ questions",
        "",
    ]
    if dropped:
        lines += [f"- {d.section}. {d.question} ({d.reason})" for d in dropped]
    else:
        lines.append("None.")
    lines += [
        "",
        "## FAQ question texts quoted in distractor documents",
        "",
        "The Debian Reference links to a few FAQ entries by title, so these "
        "question texts occur verbatim in `ref-*.md` documents (upstream "
        "content, left as is):",
        "",
    ]
    leaks = question_leaks(questions, ref_docs)
    lines += [f"- {qid} ({title}) in `{doc}`" for qid, title, doc in leaks] or ["None."]
    lines.append("")
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def write_dataset(out: Path, faq_root: Path, ref_root: Path) -> dict[str, object]:
    versions = {
        FAQ_PACKAGE: package_version(faq_root, FAQ_PACKAGE),
        REF_PACKAGE: package_version(ref_root, REF_PACKAGE),
    }
    for package, version in versions.items():
        if version != PINNED_VERSIONS[package]:
            print(
                f"warning: {package} {version} differs from pinned {PINNED_VERSIONS[package]}",
                file=sys.stderr,
            )

    faq_docs, faq_questions, dropped = build_faq(faq_root)
    ref_docs = build_ref(ref_root)
    questions = faq_questions + unanswerable_questions()
    slice_qs = make_slice(questions)

    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    names = [d.name for d in faq_docs + ref_docs]
    assert len(names) == len(set(names)), "duplicate document names"
    for doc in faq_docs + ref_docs:
        leftover = _HTML_TAG_RE.search(doc.text)
        assert leftover is None, f"HTML tag {leftover.group(0)!r} left in {doc.name}"
        (corpus / doc.name).write_text(doc.text, encoding="utf-8")
    for filename, qs in (("questions.jsonl", questions), ("questions-slice.jsonl", slice_qs)):
        (out / filename).write_text("".join(q.to_json() + "\n" for q in qs), encoding="utf-8")
    write_license_notice(out, faq_root, ref_root, versions)
    write_readme(out, faq_docs, ref_docs, questions, slice_qs, dropped, versions)
    return {
        "versions": versions,
        "faq_docs": len(faq_docs),
        "ref_docs": len(ref_docs),
        "answerable": len(faq_questions),
        "unanswerable": len(questions) - len(faq_questions),
        "slice": len(slice_qs),
        "dropped": [f"{d.section} {d.question} ({d.reason})" for d in dropped],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--faq",
        type=Path,
        help="debian-faq .deb or dpkg-deb -x directory "
        "(default: apt-get download the pinned version)",
    )
    parser.add_argument(
        "--ref",
        type=Path,
        help="debian-reference-en .deb or dpkg-deb -x directory "
        "(default: apt-get download the pinned version)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory (default: {DEFAULT_OUT.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="debian_faq_") as tmp:
        workdir = Path(tmp)
        faq_src = args.faq or download(FAQ_PACKAGE, workdir)
        ref_src = args.ref or download(REF_PACKAGE, workdir)
        faq_root = materialise(faq_src, FAQ_PACKAGE, workdir / "extract")
        ref_root = materialise(ref_src, REF_PACKAGE, workdir / "extract")
        args.out.mkdir(parents=True, exist_ok=True)
        summary = write_dataset(args.out, faq_root, ref_root)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
