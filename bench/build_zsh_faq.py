#!/usr/bin/env python3
"""Build the zsh-FAQ retrieval evaluation dataset: long PDF documents.

Sources (Debian packages, pinned versions):

* ``zsh-doc`` -- the Z-Shell FAQ (``html/FAQ0*.html``) and the zsh manual as shipped
  (``zsh.pdf``, pdfTeX, several hundred pages).
* ``zsh-common`` -- only for its copyright file (``zsh-doc``'s doc directory is a symlink to
  ``zsh-common``'s).
* ``bash-doc`` -- the bash(1) manual page as shipped (``bash.pdf``): a same-domain
  distractor. (The Bash Reference Manual is left out to keep a run of the set short.)

The whole FAQ becomes ONE PDF (``corpus/zsh-faq.pdf``), rendered deterministically with
reportlab, with every question heading removed (chapter headings kept, answers in their
original order). Every FAQ entry becomes one question whose gold answer is the entry's text;
the pages it was drawn on are recorded (``page`` = first, ``pages`` = all). The two shipped
PDFs are copied unmodified. A fixed, hand-written list of unanswerable questions (mostly near
misses: zsh topics none of the four documents covers) is appended.

Outputs (under ``--out``, default ``bench/data/zsh_faq``)::

    corpus/zsh-faq.pdf, corpus/zsh-manual.pdf, corpus/bash-man.pdf
    questions.jsonl, questions-slice.jsonl, corpus-slice.txt, LICENSE-NOTICE.md, README.md

Usage::

    python bench/build_zsh_faq.py                  # apt-get download of the pinned versions
    python bench/build_zsh_faq.py --zsh-doc zsh-doc_5.9-4_all.deb \\
        --zsh-common zsh-common_5.9-4_all.deb --bash-doc bash-doc_5.2.15-2_all.deb

Needs reportlab (in the project's venv) and, to double-check the gold pages, pypdf.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.build_debian_faq import Element, parse_html  # noqa: E402
from bench.docsrc import (  # noqa: E402
    Block,
    Entry,
    EvalQuestion,
    blocks_text,
    check_question_leaks,
    check_version,
    dir_size,
    fetch_package,
    fmt_size,
    html_blocks,
    license_notice,
    make_slice,
    normalise_ws,
    package_version,
    pdf_page_texts,
    pdf_safe,
    question_stats,
    reset_corpus,
    unanswerable,
    wrap_code,
    write_jsonl,
    write_pdf,
    write_slice_corpus,
)
from bench.harness import words  # noqa: E402

NAME = "zsh_faq"
PINNED = {"zsh-doc": "5.9-4", "zsh-common": "5.9-4", "bash-doc": "5.2.15-2"}
DEFAULT_OUT = REPO / "bench" / "data" / NAME
FAQ_DIR = Path("usr/share/doc/zsh-common/html")
SHIPPED_PDFS = {  # corpus name: (package, path in the package)
    "zsh-manual.pdf": ("zsh-doc", "usr/share/doc/zsh-common/zsh.pdf"),
    "bash-man.pdf": ("bash-doc", "usr/share/doc/bash/bash.pdf"),
}
FAQ_DOC = "zsh-faq.pdf"
FAQ_TITLE = "Z-Shell Frequently-Asked Questions"
MIN_GOLD_CHARS = 40
CODE_COLUMNS = 88
#: The slice test ingests the FAQ alone: the manuals take minutes to parse and embed on two
#: cores (about 8 passages a second).
SLICE_DISTRACTORS: tuple[str, ...] = ()

#: Hand-written questions none of the four documents answers (checked with grep on the text
#: of every PDF). Near misses first (zsh / shell topics), then off-topic. Append only.
UNANSWERABLE = (
    # -- near misses ------------------------------------------------------------------------
    "How do I install the Oh My Zsh framework and change its theme?",
    "How do I set up the Powerlevel10k prompt theme in zsh?",
    "Which plugin manager is faster for zsh, antigen or zinit?",
    "How do I enable fish-like autosuggestions from the zsh-autosuggestions plugin?",
    "How do I make zsh the default shell on macOS Catalina and later?",
    "How do I configure the starship prompt for zsh?",
    "How do I synchronise my zsh history across machines with Atuin?",
    "How do I use zsh as the integrated terminal shell in Visual Studio Code?",
    "How do I start tmux automatically whenever I open a new zsh terminal?",
    "Which release of zsh first shipped with a built-in JSON parser?",
    "How do I set up fzf key bindings for Ctrl-R history search in zsh?",
    "How do I make zsh completion work for kubectl?",
    "What is the fish shell's equivalent of a zsh abbreviation?",
    "How do I port a PowerShell profile script to zsh?",
    "Why does iTerm2 show a question mark for my Nerd Font icons in zsh?",
    "How do I configure the Prezto framework's prompt module?",
    # -- off-topic --------------------------------------------------------------------------
    "What is the population of Lisbon?",
    "How do I reset the oil-change light on a 2012 Honda Civic?",
    "What is the recommended watering schedule for a fiddle-leaf fig?",
    "Who composed the opera La Traviata?",
    "How many grams of protein are in a cup of cooked lentils?",
)


# --------------------------------------------------------------------------------------------
# FAQ parsing
# --------------------------------------------------------------------------------------------

_ENTRY_RE = re.compile(r"^(?P<num>\d+\.\d+):\s*(?P<title>.+)$")


def _skip(el: Element) -> bool:
    """The navigation list at the top of each chapter page."""
    return el.tag == "ul" and any(
        nav in el.text() for nav in ("Table of Contents", "Previous Chapter", "Next Chapter")
    )


def faq_chapters(root: Path) -> list[tuple[str, list[Block]]]:
    """(chapter title, blocks) for FAQ01..FAQ06, in order."""
    out = []
    for path in sorted((root / FAQ_DIR).glob("FAQ0[0-9].html")):
        blocks = html_blocks(parse_html(path), skip=_skip)
        heading = next(b for b in blocks if b.kind == "heading" and b.level == 1)
        start = blocks.index(heading)
        out.append((heading.text, blocks[start + 1 :]))
    assert len(out) == 6, f"expected 6 FAQ chapters, found {len(out)}"
    return out


def split_entries(chapter: str, blocks: Sequence[Block]) -> list[Block | Entry]:
    """The chapter as kept blocks and numbered entries (heading ``N.M: title``), in order. An
    unnumbered heading (``Acknowledgments:``) ends the entry before it."""
    out: list[Block | Entry] = []
    current: Entry | None = None
    for block in blocks:
        match = _ENTRY_RE.match(block.text) if block.kind == "heading" else None
        if match:
            current = Entry(match["num"], match["title"], chapter, [])
            out.append(current)
        elif block.kind == "heading" and block.level <= 2:
            current = None
            out.append(block)
        elif current is not None:
            current.blocks.append(block)
        else:
            out.append(block)
    return out


def _pdf_block(block: Block) -> Block:
    text = pdf_safe(block.text)
    if block.kind == "code":
        text = wrap_code(text, CODE_COLUMNS)
    return Block(block.kind, text, block.level)


def build_faq_pdf(zsh_doc: Path, corpus: Path) -> tuple[list[EvalQuestion], list[str], int]:
    """Render the FAQ (question headings removed); return the questions, skipped entries and
    the page count."""
    doc_blocks: list[Block] = [Block("heading", FAQ_TITLE, 1)]
    spans: list[tuple[Entry, int, int]] = []  # entry, first block, end block (exclusive)
    titles: list[str] = []
    for chapter, blocks in faq_chapters(zsh_doc):
        doc_blocks.append(Block("heading", pdf_safe(chapter), 2))
        for entry in split_entries(chapter, blocks):
            if isinstance(entry, Block):
                doc_blocks.append(_pdf_block(entry))
                continue
            titles.append(entry.title)
            start = len(doc_blocks)
            doc_blocks.extend(_pdf_block(b) for b in entry.blocks)
            spans.append((entry, start, len(doc_blocks)))
    pages = write_pdf(corpus / FAQ_DOC, FAQ_TITLE, doc_blocks, author="Peter Stephenson",
                      footer="Z-Shell FAQ")
    n_pages = max(p for ps in pages for p in ps)
    doc_text = blocks_text(doc_blocks)

    questions: list[EvalQuestion] = []
    skipped: list[str] = []
    for entry, start, end in spans:
        gold = blocks_text(doc_blocks[start:end])
        if len(gold) < MIN_GOLD_CHARS:
            skipped.append(f"{entry.number} {entry.title} (answer text only {len(gold)} chars)")
            continue
        assert gold in doc_text, f"gold of {entry.number} not in the FAQ text"
        gold_pages = sorted({p for i in range(start, end) for p in pages[i]})
        drawn = blocks_text([b for i, b in enumerate(doc_blocks)
                             if set(pages[i]) & set(gold_pages)])
        assert gold in drawn, f"gold of {entry.number} not on its recorded pages"
        questions.append(EvalQuestion(
            id=f"zsh-{len(questions) + 1}", question=normalise_ws(entry.title), document=FAQ_DOC,
            gold=gold, answerable=True, section=entry.number, pages=gold_pages,
        ))
    # No question text may survive in the FAQ document.
    low = doc_text.lower()
    for title in titles:
        assert normalise_ws(title).lower() not in low, f"question {title!r} leaked"
    return questions, skipped, n_pages


_FOOTER_RE = re.compile(r"Z-Shell FAQ - page \d+")


def verify_pdf_pages(path: Path, questions: Sequence[EvalQuestion]) -> None:
    """Each gold answer's words appear, in order, in pypdf's text of its recorded pages."""
    try:
        texts = pdf_page_texts(path)
    except ImportError:
        print("warning: pypdf not importable, gold pages not re-checked", file=sys.stderr)
        return
    for q in questions:
        if not q.answerable:
            continue
        assert q.pages, q.id
        drawn = " ".join(_FOOTER_RE.sub(" ", texts[p - 1]) for p in q.pages)
        page_words = " ".join(words(drawn))
        gold_words = " ".join(words(q.gold))
        assert gold_words in page_words, f"{q.id}: gold not in pypdf text of pages {q.pages}"


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def write_readme(out: Path, questions: Sequence[EvalQuestion], slice_qs: Sequence[EvalQuestion],
                 skipped: Sequence[str], versions: dict[str, str], page_counts: dict[str, int],
                 leaks: Sequence[tuple[str, str]]) -> None:
    stats = question_stats(questions)
    corpus = out / "corpus"
    rows = []
    for name in sorted(p.name for p in corpus.iterdir()):
        rows.append(f"| `corpus/{name}` | {page_counts.get(name, '?')} pages | "
                    f"{fmt_size((corpus / name).stat().st_size)} |")
    lines = [
        "# zsh FAQ retrieval evaluation dataset (PDF, long documents)",
        "",
        f"The Z-Shell FAQ from Debian's `zsh-doc` ({versions['zsh-doc']}) rendered as one PDF "
        "with the question headings removed, among two long PDF manuals shipped in Debian: "
        "the zsh manual (`zsh-doc`) and the bash(1) manual page "
        f"(`bash-doc` {versions['bash-doc']}). Licences: see "
        "[LICENSE-NOTICE.md](LICENSE-NOTICE.md).",
        "",
        "Shape: **PDF**, **long documents** (three documents, the shortest the FAQ itself), "
        "answers with shell code blocks; questions are the FAQ's own question headings.",
        "",
        "## Regenerating",
        "",
        "```sh",
        ".venv/bin/python bench/build_zsh_faq.py     # apt-get download of the pinned versions",
        "# or with local packages (.deb files or dpkg-deb -x directories):",
        ".venv/bin/python bench/build_zsh_faq.py --zsh-doc zsh-doc_5.9-4_all.deb \\",
        "    --zsh-common zsh-common_5.9-4_all.deb --bash-doc bash-doc_5.2.15-2_all.deb",
        "```",
        "",
        "Needs reportlab (and pypdf for the page check), both in the project's venv. Output is "
        "deterministic (reportlab's invariant mode).",
        "",
        "## Contents",
        "",
        "| item | count | size |",
        "| --- | --- | --- |",
        *rows,
        f"| `questions.jsonl` ({stats['answerable']} answerable + {stats['unanswerable']} "
        f"unanswerable) | {len(questions)} | {fmt_size((out / 'questions.jsonl').stat().st_size)} |",
        f"| `questions-slice.jsonl` | {len(slice_qs)} | "
        f"{fmt_size((out / 'questions-slice.jsonl').stat().st_size)} |",
        f"| **total** (excluding this README) | | {fmt_size(dir_size(out) - _readme_size(out))} |",
        "",
        f"Splits: answerable {stats['answerable_tune']} tune / {stats['answerable_test']} test, "
        f"unanswerable {stats['unanswerable_tune']} tune / {stats['unanswerable_test']} test "
        "(`split` = `tune` when the SHA-1 of the id is even).",
        "",
        "## Corpus",
        "",
        f"- `{FAQ_DOC}`: the six FAQ chapters (`FAQ01.html` .. `FAQ06.html`) as one A4 PDF: "
        "title, chapter headings, paragraphs (Helvetica), list items and code blocks (Courier, "
        f"lines over {CODE_COLUMNS} columns wrapped), a footer with the page number. Every "
        "numbered entry heading (`3.1: Why does $var ...?`) is removed; the answers stay in "
        "order. Characters outside the standard PDF fonts' Latin-1 range are replaced "
        "(curly quotes by straight ones, others by `?`).",
        "- `zsh-manual.pdf`, `bash-man.pdf`: the packages' own PDFs, "
        "byte for byte (pdfTeX / groff output, with running headers, hyphenation and "
        "ligatures).",
        "",
        "## Question schema (`questions.jsonl`)",
        "",
        "| field | meaning |",
        "| --- | --- |",
        "| `id` | `zsh-<n>` (answerable, FAQ order) or `unans-<n>` |",
        "| `question` | the FAQ entry heading, number stripped; hand-written if unanswerable |",
        f"| `document` | `{FAQ_DOC}`; `null` if unanswerable |",
        "| `gold` | whitespace-normalised text of the entry as drawn in the PDF; `\"\"` if "
        "unanswerable |",
        "| `answerable` | `true` / `false` |",
        "| `section` | FAQ entry number (`\"3.1\"`); `null` if unanswerable |",
        "| `page` / `pages` | first / all 1-based pages the gold text is drawn on (`[]` if "
        "unanswerable) |",
        "| `split` | `tune` or `test` |",
        "",
        "The build asserts that every gold answer occurs in the text drawn on its recorded "
        "pages, and re-checks with pypdf that the gold's words occur in that order in the "
        "extracted text of those pages.",
        "",
        "Some FAQ headings are topics rather than questions (`2.1: Differences from sh and "
        "ksh`); they are kept as the FAQ's own phrasing of what a reader looks for.",
        "",
        "The unanswerable questions are hand-written: near misses (zsh frameworks, plugins, "
        "prompts and platforms that neither the FAQ nor the manuals cover; checked with grep on "
        "every PDF's text), then a few off-topic ones.",
        "",
        "`questions-slice.jsonl`: every k-th answerable question (up to 25) plus every k-th "
        "unanswerable (up to 5). `corpus-slice.txt` lists the documents the slice test ingests "
        "(the FAQ alone: the manuals take minutes to parse and embed on two cores).",
        "",
        "## Skipped FAQ entries",
        "",
        *([f"- {s}" for s in skipped] or ["None."]),
        "",
        "## Question texts found in the distractor manuals",
        "",
        *([f"- {qid} in `{doc}`" for qid, doc in leaks] or ["None."]),
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _readme_size(out: Path) -> int:
    readme = out / "README.md"
    return readme.stat().st_size if readme.exists() else 0


def write_dataset(out: Path, roots: dict[str, Path]) -> dict[str, object]:
    versions = {
        "zsh-doc": package_version(roots["zsh-common"], "zsh-common"),
        "zsh-common": package_version(roots["zsh-common"], "zsh-common"),
        "bash-doc": package_version(roots["bash-doc"], "bash-doc"),
    }
    for package, version in versions.items():
        check_version(package, version, PINNED[package])
    corpus = reset_corpus(out)
    questions, skipped, faq_pages = build_faq_pdf(roots["zsh-doc"], corpus)
    for name, (package, rel) in SHIPPED_PDFS.items():
        shutil.copyfile(roots[package] / rel, corpus / name)
    verify_pdf_pages(corpus / FAQ_DOC, questions)

    page_counts = {FAQ_DOC: faq_pages}
    distractor_texts: dict[str, str] = {}
    try:
        for name in SHIPPED_PDFS:
            texts = pdf_page_texts(corpus / name)
            page_counts[name] = len(texts)
            distractor_texts[name] = " ".join(texts)
    except ImportError:
        pass
    leaks = check_question_leaks(questions, distractor_texts)

    questions += unanswerable("unans", UNANSWERABLE, pdf=True)
    slice_qs = make_slice(questions)
    write_jsonl(out / "questions.jsonl", questions)
    write_jsonl(out / "questions-slice.jsonl", slice_qs)
    write_slice_corpus(out, slice_qs, SLICE_DISTRACTORS)
    (out / "LICENSE-NOTICE.md").write_text(license_notice(
        "zsh FAQ",
        "The files under `corpus/` and the `question`/`gold` fields of `questions.jsonl` and "
        "`questions-slice.jsonl` are derived from the Debian packages "
        f"`zsh-doc` {versions['zsh-doc']} (the Z-Shell FAQ and the zsh manual; its copyright "
        "file is the one of `zsh-common`, built from the same source) and "
        f"`bash-doc` {versions['bash-doc']} (the bash(1) manual page).\n\n"
        "Derivation: `corpus/zsh-faq.pdf` is the FAQ's HTML rendered to PDF by "
        "`bench/build_zsh_faq.py` with the numbered question headings removed (they are the "
        "evaluation questions, the text of each entry the gold answer) and a few characters "
        "replaced by Latin-1 equivalents. `zsh-manual.pdf` and `bash-man.pdf` are the "
        "packages' `zsh.pdf` and `bash.pdf`, unmodified. The unanswerable questions were "
        "written for this dataset.",
        [("zsh-common", versions["zsh-common"], "zsh", roots["zsh-common"]),
         ("bash-doc", versions["bash-doc"], "bash documentation", roots["bash-doc"])],
        "The GNU General Public License and GNU Free Documentation License referred to above "
        "are at `/usr/share/common-licenses/` on Debian systems and at "
        "<https://www.gnu.org/licenses/>.",
    ), encoding="utf-8")
    write_readme(out, questions, slice_qs, skipped, versions, page_counts, leaks)
    return {"versions": versions, "pages": page_counts, **question_stats(questions),
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
