#!/usr/bin/env python3
"""Build the curl-FAQ retrieval evaluation dataset: many short DOCX documents.

Sources (Debian packages, pinned versions):

* ``libcurl4-doc`` -- the curl FAQ (``usr/share/doc/libcurl4/FAQ.gz``, plain text), the
  libcurl manual pages (``usr/share/man/man3/*.3.gz``) and the short Markdown documents of
  ``usr/share/doc/libcurl4``.
* ``curl`` -- the curl(1) manual page (``usr/share/man/man1/curl.1.gz``).

Every FAQ entry becomes ONE short Word document (``corpus/faq-<n>-<m>.docx``) holding only
the entry's answer under a title naming the FAQ chapter (``curl FAQ: 3. Usage problems``): the
question heading is removed. Each question's gold answer is the text of its entry. The
distractors are short Word documents too: one per libcurl manual page (``man-<name>.docx``),
one per command-line option of curl(1) (``curl-opt-<name>.docx``) and one per short Markdown
document (``doc-<name>.docx``). A fixed, hand-written list of unanswerable questions (near
misses: curl/HTTP topics none of the documents covers, plus a few off-topic ones) is appended.

The .docx files are minimal Office Open XML written by ``bench.docsrc.write_docx`` (Title,
Heading, Normal, List Bullet and Code paragraph styles), byte-for-byte deterministic.

Outputs (under ``--out``, default ``bench/data/curl_faq``)::

    corpus/*.docx, questions.jsonl, questions-slice.jsonl, corpus-slice.txt,
    LICENSE-NOTICE.md, README.md

Usage::

    python bench/build_curl_faq.py             # apt-get download of the pinned versions
    python bench/build_curl_faq.py --libcurl4-doc libcurl4-doc_7.88.1-10+deb12u15_all.deb \\
        --curl curl_7.88.1-10+deb12u15_amd64.deb

Standard library only (plus ``dpkg-deb`` / ``apt-get``). Output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.docsrc import (  # noqa: E402
    Block,
    EvalQuestion,
    blocks_text,
    check_question_leaks,
    check_version,
    dir_size,
    document_text,
    fetch_package,
    fmt_size,
    license_notice,
    make_slice,
    normalise_ws,
    package_version,
    question_stats,
    read_maybe_gz,
    reset_corpus,
    slugify,
    unanswerable,
    write_docx,
    write_jsonl,
    write_slice_corpus,
)

NAME = "curl_faq"
PINNED = {"libcurl4-doc": "7.88.1-10+deb12u15", "curl": "7.88.1-10+deb12u15"}
DEFAULT_OUT = REPO / "bench" / "data" / NAME
DOC_DIR = Path("usr/share/doc/libcurl4")
MAN3 = Path("usr/share/man/man3")
CURL_1 = Path("usr/share/man/man1/curl.1.gz")
MIN_GOLD_CHARS = 40
#: Manual pages and Markdown documents longer than this (characters of text) are not "short"
#: and are left out.
MAX_DOC_CHARS = 8_000
#: Manual pages of single options / info items: kept only when the FAQ names them (there are
#: about 400; all of them would double a run of the set).
OPTION_PAGE_PREFIXES = ("CURLOPT_", "CURLINFO_", "CURLMOPT_", "CURLSHOPT_")
#: Markdown documents about the project rather than the software.
SKIP_MD = frozenset({"CODE_OF_CONDUCT.md", "README.md", "EARLY-RELEASE.md", "RELEASE-PROCEDURE.md",
                     "CHECKSRC.md", "CODE_STYLE.md", "CODE_REVIEW.md", "BUG-BOUNTY.md"})
#: Distractors the slice test ingests besides the slice's gold documents (fixed names).
SLICE_DISTRACTORS = (
    "curl-opt-location.docx", "curl-opt-continue-at.docx", "curl-opt-form.docx",
    "curl-opt-header.docx", "curl-opt-proxy.docx", "curl-opt-cacert.docx",
    "man-CURLOPT_HTTPHEADER.docx", "man-CURLOPT_WRITEFUNCTION.docx",
    "man-CURLOPT_TIMEOUT.docx", "man-libcurl-thread.docx", "man-curl_easy_perform.docx",
    "doc-SSLCERTS.docx", "doc-HTTP-COOKIES.docx", "doc-MQTT.docx",
)

#: Hand-written questions none of the documents answers (checked with grep on the corpus
#: text). Near misses first, then off-topic. Append only.
UNANSWERABLE = (
    # -- near misses ------------------------------------------------------------------------
    "How do I download a whole website recursively with wget --mirror?",
    "How do I send a request with Postman and export it as a collection?",
    "How do I make an HTTP request with the Python requests library and a session object?",
    "How do I use the Invoke-WebRequest cmdlet in PowerShell to download a file?",
    "What is the difference between HTTPie and curl output formatting?",
    "How do I configure an nginx reverse proxy to add CORS headers?",
    "How do I obtain a free TLS certificate from Let's Encrypt with certbot?",
    "How do I call the GitHub REST API to create a release with a personal access token?",
    "How do I use aria2c to download a file over several connections at once?",
    "How do I set up an Apache web server to accept HTTP/2 connections?",
    "How do I debug HTTPS traffic from my phone with the Charles proxy?",
    "How do I rate-limit incoming API requests in an Express.js server?",
    "Which version of the OkHttp library supports HTTP/3 on Android?",
    "How do I fetch a URL in a Node.js script with the built-in fetch function?",
    "How do I renew an expired Kerberos ticket with kinit?",
    "How do I convert a Postman collection into a k6 load-test script?",
    "What is the maximum request body size on AWS API Gateway?",
    "How do I configure Cloudflare to cache API responses?",
    # -- off-topic --------------------------------------------------------------------------
    "How do I get a stain of red wine out of a cotton shirt?",
    "When was the Eiffel Tower built?",
    "What is the best way to learn to juggle three balls?",
    "How many moons does Jupiter have?",
    "What is the difference between baking soda and baking powder?",
)

# --------------------------------------------------------------------------------------------
# The FAQ (plain text)
# --------------------------------------------------------------------------------------------

_CHAPTER_RE = re.compile(r"^(?P<num>\d+)\.\s+(?P<title>\S.*)$")
_ENTRY_RE = re.compile(r"^  (?P<num>\d+\.\d+)\s+(?P<title>\S.*)$")
_SUBENTRY_RE = re.compile(r"^   ?(?P<num>\d+\.\d+\.\d+)\s+(?P<title>\S.*)$")


@dataclass
class FaqEntry:
    number: str
    title: str
    chapter: str
    lines: list[str]


def _text_blocks(lines: Sequence[str], base_indent: int) -> list[Block]:
    """Paragraphs separated by blank lines; a paragraph indented deeper than ``base_indent``
    on every line is a code block; ``- `` / ``* `` items are list items."""
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if not para:
            return
        indents = [len(line) - len(line.lstrip()) for line in para if line.strip()]
        if min(indents) > base_indent:
            cut = min(indents)
            blocks.append(Block("code", "\n".join(line[cut:].rstrip() for line in para)))
        else:
            items: list[list[str]] = []
            plain: list[str] = []
            for line in para:
                stripped = line.strip()
                if re.match(r"^[-*] \S", stripped):
                    items.append([stripped[2:]])
                elif items:
                    items[-1].append(stripped)
                else:
                    plain.append(stripped)
            if plain:
                blocks.append(Block("para", normalise_ws(" ".join(plain))))
            blocks.extend(Block("item", normalise_ws(" ".join(i))) for i in items)
        para.clear()

    for line in lines:
        if line.strip():
            para.append(line.expandtabs(8))
        else:
            flush()
    flush()
    return blocks


def parse_faq(text: str) -> list[FaqEntry]:
    """The FAQ's entries, after its table of contents. An entry heading is an indented
    ``N.M title`` line after a blank line, N being the current chapter (a wrapped line such as
    ``  4.12 and the SSLCERTS document`` is body text)."""
    body = text.split("=" * 78, 1)[1]
    entries: list[FaqEntry] = []
    chapter, chapter_num, previous = "", "", ""
    for line in body.split("\n"):
        chapter_m = _CHAPTER_RE.match(line)
        entry_m = _ENTRY_RE.match(line)
        if chapter_m:
            chapter = f"{chapter_m['num']}. {normalise_ws(chapter_m['title'])}"
            chapter_num = chapter_m["num"]
        elif entry_m and not previous.strip() and entry_m["num"].split(".")[0] == chapter_num:
            entries.append(FaqEntry(entry_m["num"], normalise_ws(entry_m["title"]), chapter, []))
        elif entries:
            entries[-1].lines.append(line)
        previous = line
    numbers = [e.number for e in entries]
    assert len(numbers) == len(set(numbers)), "duplicate FAQ entry numbers"
    return entries


def entry_blocks(entry: FaqEntry) -> list[Block]:
    """The entry's answer; sub-entries (``4.5.1 "400 Bad Request"``) become headings."""
    out: list[Block] = []
    chunk: list[str] = []
    for line in entry.lines:
        sub = _SUBENTRY_RE.match(line)
        if sub:
            out += _text_blocks(chunk, 2)
            chunk = []
            out.append(Block("heading", f"{sub['num']} {normalise_ws(sub['title'])}", 2))
        else:
            chunk.append(line)
    out += _text_blocks(chunk, 2)
    return out


# --------------------------------------------------------------------------------------------
# Manual pages (troff, the subset curl's pages use)
# --------------------------------------------------------------------------------------------

_ESCAPES = (
    (r"\(aq", "'"), (r"\(dq", '"'), (r"\(em", "\u2014"), (r"\(en", "\u2013"),
    (r"\(bu", "\u2022"), (r"\(co", "\u00a9"), (r"\(lq", "\u201c"), (r"\(rq", "\u201d"),
    (r"\(oq", "\u2018"), (r"\(cq", "\u2019"), (r"\(ti", "~"), (r"\(ha", "^"),
    (r"\-", "-"), (r"\&", ""), (r"\%", ""), (r"\e", "\\"), (r"\ ", " "), (r"\|", ""),
    (r"\^", ""), (r"\/", ""), (r"\,", ""), (r"\:", ""), (r"\~", " "),
)
_FONT_RE = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)")
_PLACEHOLDER = "\x00BS\x00"


def troff_text(s: str) -> str:
    """Inline troff: fonts dropped, escapes resolved."""
    s = s.replace("\\\\", _PLACEHOLDER)
    s = _FONT_RE.sub("", s)
    for esc, rep in _ESCAPES:
        s = s.replace(esc, rep)
    s = re.sub(r"\\\*\(..|\\\*.", "", s)  # strings
    s = re.sub(r"\\(?=\S)", "", s)  # any other escape: drop the backslash
    return s.replace(_PLACEHOLDER, "\\")


def _macro_args(rest: str) -> list[str]:
    args, cur, quoted = [], "", False
    for ch in rest:
        if ch == '"':
            quoted = not quoted
        elif ch in " \t" and not quoted:
            if cur:
                args.append(cur)
                cur = ""
        else:
            cur += ch
    if cur:
        args.append(cur)
    return args


def parse_man(source: str) -> tuple[str, list[Block]]:
    """(title, blocks) of a manual page: the NAME line is the title; ``.SH`` sections become
    headings, ``.nf``/``.fi`` code blocks, ``.IP``/``.TP`` tags paragraphs of their own (kind
    ``term``)."""
    blocks: list[Block] = []
    para: list[str] = []
    code: list[str] | None = None
    section = ""
    name_lines: list[str] = []
    pending_tag = False

    def flush() -> None:
        text = normalise_ws(" ".join(para))
        para.clear()
        if not text:
            return
        if section == "NAME":
            name_lines.append(text)
        else:
            blocks.append(Block("para", text))

    for raw in source.split("\n"):
        line = raw.rstrip("\n")
        if line.startswith(('.\\"', "'\\\"", "'")) or line == ".":
            continue
        if code is not None:
            # A code block ends at .fi, or at a new section when the page forgot the .fi.
            if line.startswith((".fi", ".SH", ".SS")):
                if any(c.strip() for c in code):
                    blocks.append(Block("code", "\n".join(code).strip("\n")))
                code = None
                if line.startswith(".fi"):
                    continue
            elif line.startswith("."):
                macro, _, rest = line[1:].partition(" ")
                if macro in ("B", "I"):
                    code.append(troff_text(" ".join(_macro_args(rest))))
                elif macro in ("BR", "BI", "IB", "IR", "RB", "RI"):
                    code.append(troff_text("".join(_macro_args(rest))))
                continue
            else:
                code.append(troff_text(line).rstrip())
                continue
        if line.startswith("."):
            macro, _, rest = line[1:].partition(" ")
            args = _macro_args(rest)
            if macro == "SH" or macro == "SS":
                flush()
                section = troff_text(" ".join(args)).strip()
                if section != "NAME":
                    blocks.append(Block("heading", section, 2 if macro == "SH" else 3))
            elif macro == "nf":
                flush()
                code = []
            elif macro in ("PP", "P", "LP", "sp", "br", "RS", "RE", "in", "ne"):
                flush()
            elif macro == "IP":
                flush()
                if args and args[0] not in ("\\(bu", "-", "*"):
                    blocks.append(Block("term", troff_text(args[0])))
            elif macro == "TP":
                flush()
                pending_tag = True
            elif macro in ("B", "I", "SM"):
                para.append(troff_text(" ".join(args)))
            elif macro in ("BR", "BI", "IB", "IR", "RB", "RI"):
                para.append(troff_text("".join(args)))
            elif macro in ("TH", "ad", "na", "hy", "nh", "fi", "ft", "ds", "de", "so"):
                continue
            else:
                continue
            if pending_tag and macro != "TP":
                pending_tag = False
            continue
        if pending_tag:
            blocks.append(Block("term", normalise_ws(troff_text(line))))
            pending_tag = False
            continue
        para.append(troff_text(line))
    flush()
    title = normalise_ws(" ".join(name_lines))
    return title, blocks


# --------------------------------------------------------------------------------------------
# curl(1): one short document per command-line option
# --------------------------------------------------------------------------------------------

_OPTION_RE = re.compile(r"^(?:-\S, )?--(?P<name>[a-z0-9][a-z0-9.-]*)")


def split_curl_options(blocks: Sequence[Block]) -> list[tuple[str, str, list[Block]]]:
    """(option name, title, blocks) for every option entry of the OPTIONS section."""
    out: list[tuple[str, str, list[Block]]] = []
    in_options = False
    current: tuple[str, str, list[Block]] | None = None
    for block in blocks:
        if block.kind == "heading":
            if current:
                out.append(current)
                current = None
            in_options = block.text == "OPTIONS"
            continue
        if not in_options:
            continue
        match = _OPTION_RE.match(block.text) if block.kind == "term" else None
        if match:
            if current:
                out.append(current)
            current = (match["name"], block.text, [])
        elif current:
            current[2].append(block)
    if current:
        out.append(current)
    return out


# --------------------------------------------------------------------------------------------
# Markdown (the subset curl's docs use)
# --------------------------------------------------------------------------------------------


def parse_markdown(text: str) -> tuple[str, list[Block]]:
    """(first heading, blocks): ATX headings, fenced / indented code, list items, paragraphs.
    Links keep their text; emphasis and inline-code markers are dropped."""
    blocks: list[Block] = []
    para: list[str] = []
    fence: list[str] | None = None
    title = ""

    def inline(s: str) -> str:
        s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
        s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
        s = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", s)
        s = s.replace("`", "")
        return re.sub(r"(\*\*|__)(.+?)\1", r"\2", s)

    def flush() -> None:
        if not para:
            return
        lines = list(para)
        para.clear()
        if all(line.startswith("    ") for line in lines):
            blocks.append(Block("code", "\n".join(line[4:] for line in lines)))
            return
        items: list[list[str]] = []
        plain: list[str] = []
        for line in lines:
            m = re.match(r"^\s*(?:[-*+]|\d+\.)\s+(\S.*)$", line)
            if m:
                items.append([m.group(1)])
            elif items:
                items[-1].append(line.strip())
            else:
                plain.append(line.strip())
        if plain:
            blocks.append(Block("para", normalise_ws(inline(" ".join(plain)))))
        blocks.extend(Block("item", normalise_ws(inline(" ".join(i)))) for i in items)

    lines = text.split("\n")
    for i, line in enumerate(lines):
        if fence is not None:
            if line.strip().startswith("```"):
                blocks.append(Block("code", "\n".join(fence).strip("\n")))
                fence = None
            else:
                fence.append(line.rstrip())
            continue
        if line.strip().startswith("```"):
            flush()
            fence = []
            continue
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        underline = i + 1 < len(lines) and re.match(r"^(=+|-+)\s*$", lines[i + 1]) and line.strip()
        if heading:
            flush()
            text_ = normalise_ws(inline(heading.group(2)))
            if not title:
                title = text_
            else:
                blocks.append(Block("heading", text_, len(heading.group(1))))
        elif underline:
            flush()
            text_ = normalise_ws(inline(line))
            if not title:
                title = text_
            else:
                blocks.append(Block("heading", text_, 2 if lines[i + 1].startswith("=") else 3))
        elif re.match(r"^(=+|-+)\s*$", line) and i > 0 and lines[i - 1].strip():
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line.rstrip())
    flush()
    return title, [b for b in blocks if b.text]


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _man_sources(root: Path, faq_text: str) -> Iterable[tuple[str, str]]:
    """The libcurl manual pages kept: every function and overview page, and the option /
    info pages (``CURLOPT_*``, ``CURLINFO_*``, ...) that the FAQ names; alias pages (``.so``)
    skipped."""
    for path in sorted((root / MAN3).glob("*.3.gz")):
        name = path.name.removesuffix(".3.gz")
        if name.startswith(OPTION_PAGE_PREFIXES) and not re.search(rf"\b{name}\b", faq_text):
            continue
        text = read_maybe_gz(path.with_suffix(""))
        if text.lstrip().startswith(".so"):
            continue
        yield name, text


def build_corpus(libcurl: Path, curl: Path, corpus: Path
                 ) -> tuple[list[EvalQuestion], list[str], dict[str, int]]:
    counts = {"faq": 0, "man": 0, "curl-opt": 0, "doc": 0, "long": 0}
    questions: list[EvalQuestion] = []
    skipped: list[str] = []
    faq_texts: dict[str, str] = {}
    faq_source = read_maybe_gz(libcurl / DOC_DIR / "FAQ")
    for entry in parse_faq(faq_source):
        blocks = entry_blocks(entry)
        gold = blocks_text(blocks)
        if len(gold) < MIN_GOLD_CHARS:
            skipped.append(f"{entry.number} {entry.title} (answer text only {len(gold)} chars)")
            continue
        name = f"faq-{entry.number.replace('.', '-')}.docx"
        write_docx(corpus / name, f"curl FAQ: {entry.chapter}", blocks)
        counts["faq"] += 1
        text = document_text(corpus / name)
        faq_texts[name] = text
        assert gold in text, f"gold of {entry.number} not in {name}"
        questions.append(EvalQuestion(
            id=f"curl-{len(questions) + 1}", question=entry.title, document=name, gold=gold,
            answerable=True, section=entry.number,
        ))
    for name, source in _man_sources(libcurl, faq_source):
        title, blocks = parse_man(source)
        if len(blocks_text(blocks)) > MAX_DOC_CHARS:
            counts["long"] += 1
            continue
        write_docx(corpus / f"man-{name}.docx", title or name, blocks)
        counts["man"] += 1
    _title, curl_blocks = parse_man(read_maybe_gz(curl / CURL_1.with_suffix("")))
    seen: set[str] = set()
    for option, title, blocks in split_curl_options(curl_blocks):
        assert option not in seen, f"curl option {option} twice"
        seen.add(option)
        write_docx(corpus / f"curl-opt-{option}.docx", f"curl {title}", blocks)
        counts["curl-opt"] += 1
    for path in sorted((libcurl / DOC_DIR).iterdir()):
        md_name = path.name.removesuffix(".gz")
        if not md_name.endswith(".md") or md_name in SKIP_MD:
            continue
        title, blocks = parse_markdown(read_maybe_gz(path.with_name(md_name)))
        if len(blocks_text(blocks)) > MAX_DOC_CHARS:
            counts["long"] += 1
            continue
        write_docx(corpus / f"doc-{slugify(md_name.removesuffix('.md')).upper()}.docx",
                   title or md_name, blocks)
        counts["doc"] += 1
    # No question text may survive in the FAQ documents.
    for q in questions:
        for name, text in faq_texts.items():
            assert normalise_ws(q.question).lower() not in text.lower(), (q.id, name)
    return questions, skipped, counts


def write_readme(out: Path, questions: Sequence[EvalQuestion], slice_qs: Sequence[EvalQuestion],
                 skipped: Sequence[str], versions: dict[str, str], counts: dict[str, int],
                 leaks: Sequence[tuple[str, str]]) -> None:
    stats = question_stats(questions)
    corpus = out / "corpus"

    def size_of(prefix: str) -> str:
        return fmt_size(sum(p.stat().st_size for p in corpus.glob(f"{prefix}-*.docx")))

    readme = out / "README.md"
    total = dir_size(out) - (readme.stat().st_size if readme.exists() else 0)
    n_docs = sum(v for k, v in counts.items() if k != "long")
    lines = [
        "# curl FAQ retrieval evaluation dataset (DOCX, short documents)",
        "",
        f"The curl FAQ from Debian's `libcurl4-doc` ({versions['libcurl4-doc']}), one short "
        "Word document per FAQ entry with the question heading removed, among short Word "
        "documents made from the libcurl manual pages, the options of curl(1) "
        f"(`curl` {versions['curl']}) and curl's short Markdown documents. Licence: see "
        "[LICENSE-NOTICE.md](LICENSE-NOTICE.md).",
        "",
        f"Shape: **DOCX**, **short documents** ({n_docs} documents, most of them a page or "
        "less), answers with command lines and C code.",
        "",
        "## Regenerating",
        "",
        "```sh",
        "python bench/build_curl_faq.py          # apt-get download of the pinned versions",
        "python bench/build_curl_faq.py --libcurl4-doc "
        f"libcurl4-doc_{versions['libcurl4-doc']}_all.deb \\",
        f"    --curl curl_{versions['curl']}_amd64.deb",
        "```",
        "",
        "Standard library only (plus `dpkg-deb`, and `apt-get` when downloading). Output is "
        "deterministic (the .docx files have fixed zip timestamps).",
        "",
        "## Contents",
        "",
        "| item | count | size |",
        "| --- | --- | --- |",
        f"| `corpus/faq-*.docx` (one FAQ entry each, question removed) | {counts['faq']} | "
        f"{size_of('faq')} |",
        f"| `corpus/man-*.docx` (libcurl function and overview pages, option pages the FAQ "
        f"names) | {counts['man']} | {size_of('man')} |",
        f"| `corpus/curl-opt-*.docx` (one curl(1) option each) | {counts['curl-opt']} | "
        f"{size_of('curl-opt')} |",
        f"| `corpus/doc-*.docx` (short Markdown documents) | "
        f"{counts['doc']} | {size_of('doc')} |",
        f"| `questions.jsonl` ({stats['answerable']} answerable + {stats['unanswerable']} "
        f"unanswerable) | {len(questions)} | {fmt_size((out / 'questions.jsonl').stat().st_size)} |",
        f"| `questions-slice.jsonl` | {len(slice_qs)} | "
        f"{fmt_size((out / 'questions-slice.jsonl').stat().st_size)} |",
        f"| **total** (excluding this README) | | {fmt_size(total)} |",
        "",
        f"Splits: answerable {stats['answerable_tune']} tune / {stats['answerable_test']} test, "
        f"unanswerable {stats['unanswerable_tune']} tune / {stats['unanswerable_test']} test "
        "(`split` = `tune` when the SHA-1 of the id is even).",
        "",
        "## Corpus",
        "",
        "Every document is a minimal .docx (document, styles and core properties parts; "
        "`Title`, `Heading 1-3`, `Normal`, `List Bullet` and `Code` paragraph styles; code "
        "blocks are one `Code` paragraph with line breaks).",
        "",
        "- `faq-N-M.docx`: title `curl FAQ: <chapter>`, then the answer of FAQ entry N.M "
        "(paragraphs, list items, code blocks; sub-entries such as `4.5.1 \"400 Bad Request\"` "
        "as headings). The question heading is not in the document.",
        "- `man-<page>.docx`: a libcurl manual page (troff converted by this script): the NAME "
        "line as title, `SYNOPSIS`/`DESCRIPTION`/... as headings. Kept: every function and "
        "overview page, and the option/info pages (`CURLOPT_*`, `CURLINFO_*`, ...) that the "
        "FAQ names; alias pages (`.so`) skipped. (All 400 option pages would double the time "
        "a run of the set takes.)",
        "- `curl-opt-<option>.docx`: one option of the OPTIONS section of curl(1), titled with "
        "its option line (`curl -L, --location`).",
        "- `doc-<NAME>.docx`: a Markdown document of `/usr/share/doc/libcurl4`, without the "
        f"project-process ones ({', '.join(sorted(SKIP_MD))}).",
        f"- Manual pages and Markdown documents of more than {MAX_DOC_CHARS} characters of "
        f"text are not short and are left out ({counts['long']} of them).",
        "",
        "## Question schema (`questions.jsonl`)",
        "",
        "| field | meaning |",
        "| --- | --- |",
        "| `id` | `curl-<n>` (answerable, FAQ order) or `unans-<n>` |",
        "| `question` | the FAQ entry heading, number stripped (some are statements of a "
        "problem, e.g. `FTPS does not work`); hand-written if unanswerable |",
        "| `document` | `faq-N-M.docx`; `null` if unanswerable |",
        "| `gold` | whitespace-normalised text of the entry; `\"\"` if unanswerable |",
        "| `answerable` | `true` / `false` |",
        "| `section` | FAQ entry number; `null` if unanswerable |",
        "| `split` | `tune` or `test` |",
        "",
        "The build asserts that every gold answer occurs in the whitespace-normalised "
        "paragraph text of its .docx as read back (`bench.docsrc.document_text`).",
        "",
        "The unanswerable questions are hand-written: near misses (other HTTP clients, "
        "servers and services; checked with grep on the corpus text), then a few off-topic "
        "ones.",
        "",
        "`questions-slice.jsonl`: every k-th answerable question (up to 25) plus every k-th "
        "unanswerable (up to 5); `corpus-slice.txt` lists the documents the slice test "
        f"ingests (the slice's gold documents plus {len(SLICE_DISTRACTORS)} fixed "
        "distractors).",
        "",
        "## Skipped FAQ entries",
        "",
        *([f"- {s}" for s in skipped] or ["None."]),
        "",
        "## Question texts found in distractor documents",
        "",
        *([f"- {qid} in `{doc}`" for qid, doc in leaks] or ["None."]),
        "",
    ]
    readme.write_text("\n".join(lines), encoding="utf-8")


def write_dataset(out: Path, roots: dict[str, Path]) -> dict[str, object]:
    versions = {p: package_version(roots[p], p) for p in PINNED}
    for package, version in versions.items():
        check_version(package, version, PINNED[package])
    corpus = reset_corpus(out)
    questions, skipped, counts = build_corpus(roots["libcurl4-doc"], roots["curl"], corpus)
    leaks = check_question_leaks(questions, {
        p.name: document_text(p) for p in sorted(corpus.iterdir())
        if not p.name.startswith("faq-")
    })
    questions += unanswerable("unans", UNANSWERABLE)
    slice_qs = make_slice(questions)
    write_jsonl(out / "questions.jsonl", questions)
    write_jsonl(out / "questions-slice.jsonl", slice_qs)
    write_slice_corpus(out, slice_qs, SLICE_DISTRACTORS)
    (out / "LICENSE-NOTICE.md").write_text(license_notice(
        "curl FAQ",
        "The files under `corpus/` and the `question`/`gold` fields of `questions.jsonl` and "
        "`questions-slice.jsonl` are derived from the Debian packages "
        f"`libcurl4-doc` {versions['libcurl4-doc']} (the curl FAQ, the libcurl manual pages "
        f"and curl's Markdown documentation) and `curl` {versions['curl']} (the curl(1) "
        "manual page).\n\n"
        "Derivation: `bench/build_curl_faq.py` converted the FAQ (plain text), the manual "
        "pages (troff) and the Markdown documents to .docx files: one per FAQ entry with the "
        "entry's question heading removed (the headings are the evaluation questions, the "
        "entry text the gold answer), one per libcurl manual page, one per curl(1) "
        "command-line option and one per short Markdown document. Markup was converted, the "
        "text is otherwise unmodified. The unanswerable questions were written for this "
        "dataset.",
        [("libcurl4-doc", versions["libcurl4-doc"], "libcurl documentation",
          roots["libcurl4-doc"]),
         ("curl", versions["curl"], "curl", roots["curl"])],
    ), encoding="utf-8")
    write_readme(out, questions, slice_qs, skipped, versions, counts, leaks)
    return {"versions": versions, "documents": counts, **question_stats(questions),
            "slice": len(slice_qs), "skipped": skipped, "leaks": leaks}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for package in PINNED:
        parser.add_argument(f"--{package}", type=Path, dest=package.replace("-", "_"),
                            help=f"{package} .deb or dpkg-deb -x directory "
                                 "(default: apt-get download the pinned version)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"{NAME}_") as tmp:
        work = Path(tmp)
        roots = {p: fetch_package(p, v, getattr(args, p.replace("-", "_")), work)
                 for p, v in PINNED.items()}
        args.out.mkdir(parents=True, exist_ok=True)
        summary = write_dataset(args.out, roots)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
