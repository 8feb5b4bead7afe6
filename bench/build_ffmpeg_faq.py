#!/usr/bin/env python3
"""Build the FFmpeg-FAQ retrieval evaluation dataset: HTML documents, long reference pages.

Source: Debian's ``ffmpeg-doc`` package (pinned version), ``usr/share/doc/ffmpeg/manual``:

* ``faq.html`` (FFmpeg FAQ) and ``mailing-list-faq.html`` (FFmpeg Mailing List FAQ): each
  becomes one clean HTML page (``corpus/ffmpeg-faq.html``, ``corpus/mailing-list-faq.html``)
  with its table of contents and every question heading removed (chapter and non-question
  sub-section headings kept, answers in their original order). Links whose text repeats a
  question are shortened to the section number. Every question heading becomes one question
  whose gold answer is the text of its section.
* The reference manuals (``ffmpeg.html``, ``ffmpeg-codecs.html``, ``ffmpeg-formats.html``,
  ...; see ``DISTRACTORS``) are copied byte for byte as distractors -- texinfo HTML with
  navigation, tables of contents and anchors, as a user would upload it.

A fixed, hand-written list of unanswerable questions (near misses: FFmpeg topics none of the
pages covers, plus a few off-topic ones) is appended.

Outputs (under ``--out``, default ``bench/data/ffmpeg_faq``)::

    corpus/*.html, questions.jsonl, questions-slice.jsonl, corpus-slice.txt,
    LICENSE-NOTICE.md, README.md

Usage::

    python bench/build_ffmpeg_faq.py                 # apt-get download of the pinned version
    python bench/build_ffmpeg_faq.py --ffmpeg-doc ffmpeg-doc_7%3a5.1.9-0+deb12u1_all.deb

Standard library only (plus ``dpkg-deb`` / ``apt-get``). Output is deterministic.
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
    document_text,
    fetch_package,
    fmt_size,
    html_blocks,
    license_notice,
    make_slice,
    normalise_ws,
    package_version,
    question_stats,
    remove_elements,
    reset_corpus,
    serialize_html,
    unanswerable,
    write_jsonl,
    write_slice_corpus,
)

NAME = "ffmpeg_faq"
PACKAGE = "ffmpeg-doc"
PINNED = {PACKAGE: "7:5.1.9-0+deb12u1"}
DEFAULT_OUT = REPO / "bench" / "data" / NAME
MANUAL = Path("usr/share/doc/ffmpeg/manual")
#: (source page, corpus name, title, id prefix)
FAQS = (
    ("faq.html", "ffmpeg-faq.html", "FFmpeg FAQ", "ffmpeg"),
    ("mailing-list-faq.html", "mailing-list-faq.html", "FFmpeg Mailing List FAQ", "ml"),
)
#: Upstream pages copied as distractors. ``ffmpeg-filters.html`` (1.4 MB) and the ``*-all``
#: concatenations are left out to keep a run of the set to minutes on two cores.
DISTRACTORS = (
    "developer.html", "fate.html", "ffmpeg-bitstream-filters.html", "ffmpeg-codecs.html",
    "ffmpeg-devices.html", "ffmpeg-formats.html", "ffmpeg-protocols.html",
    "ffmpeg-resampler.html", "ffmpeg-scaler.html", "ffmpeg-utils.html", "ffmpeg.html",
    "ffplay.html", "ffprobe.html", "general.html", "git-howto.html", "libavcodec.html",
    "libavdevice.html", "libavfilter.html", "libavformat.html", "libavutil.html",
    "libswresample.html", "libswscale.html", "nut.html", "platform.html",
)
#: The slice test ingests the two FAQ pages and these short distractors.
SLICE_DISTRACTORS = ("git-howto.html", "libavformat.html", "platform.html")
MIN_GOLD_CHARS = 40

#: Hand-written questions none of the pages answers (checked with grep on the corpus text).
#: Near misses first, then off-topic. Append only.
UNANSWERABLE = (
    # -- near misses ------------------------------------------------------------------------
    "How do I trim a video in HandBrake without re-encoding it?",
    "Which export settings does Adobe Premiere Pro recommend for YouTube uploads?",
    "How do I stream my desktop to Twitch with OBS Studio?",
    "How do I use the Python library moviepy to add subtitles to a clip?",
    "How do I make VLC media player resume a file where I stopped watching it?",
    "How do I convert a video with the GStreamer gst-launch-1.0 pipeline?",
    "How do I remove the silences from a podcast recording in Audacity?",
    "Which YouTube-dl fork is still maintained and how do I download a playlist with it?",
    "How do I transcode videos in an AWS Elemental MediaConvert job?",
    "Which smartphone records video in Apple ProRes RAW?",
    "How do I add a watermark to a video on Instagram Reels?",
    "Which FFmpeg release added support for the AV2 codec?",
    "How do I hardware-encode HEVC on an Apple M2 with Final Cut Pro?",
    "How do I configure Plex Media Server to transcode 4K HDR files?",
    "What are the licensing fees for the Dolby Atmos encoder?",
    "How do I enable the DaVinci Resolve Studio GPU decoder for H.265?",
    # -- off-topic --------------------------------------------------------------------------
    "How long does it take to drive from Madrid to Barcelona?",
    "What is the capital of Australia?",
    "How do I descale a Nespresso coffee machine?",
    "Who painted the ceiling of the Sistine Chapel?",
    "How many players are on a rugby union team?",
)

_NUMBERED_RE = re.compile(r"^(?P<num>\d+(?:\.\d+)*)\s+(?P<title>.+)$", re.S)


def _skip_in_faq(el: Element) -> bool:
    """What the rewritten FAQ pages drop: the table of contents, the heading links (``#``,
    ``TOC``) and the empty named anchors (their names spell out the questions)."""
    if el.attrs.get("id") == "SEC_Contents" or (el.tag == "span" and "pull-right" in el.classes):
        return True
    return el.tag == "a" and "name" in el.attrs and not el.children


def _question_headings(root: Element) -> dict[str, str]:
    """{normalised lower-case question title: section number} of the page's ``<h3>``s."""
    out = {}
    for el in root.iter_elements():
        if el.tag == "h3" and "section" in el.classes:
            text = normalise_ws("".join(
                c if isinstance(c, str) else ("" if _skip_in_faq(c) else c.text()) for c in el.children
            ))
            match = _NUMBERED_RE.match(text)
            assert match, f"unnumbered FAQ heading {text!r}"
            out[match["title"].lower()] = match["num"]
    return out


def _shorten_question_links(root: Element, titles: dict[str, str]) -> int:
    """Replace the text of links that repeat a question title by ``section N.M``."""
    n = 0
    for el in root.iter_elements():
        if el.tag == "a" and el.attrs.get("href", "").startswith("#"):
            number = titles.get(normalise_ws(el.text()).lower())
            if number:
                el.children = [f"section {number}"]
                n += 1
    return n


_MARK = "\x00question-"


def build_faq(src: Path, corpus_name: str, title: str, prefix: str,
              corpus: Path) -> tuple[list[EvalQuestion], list[str]]:
    """Write the FAQ page without its question headings; return its questions."""
    root = parse_html(src)
    titles = _question_headings(root)
    _shorten_question_links(root, titles)
    remove_elements(root, _skip_in_faq)
    # Replace each question heading by a marker, to cut the page into entries.
    entries: list[Entry] = []
    for el in root.iter_elements():
        if el.tag == "h3" and "section" in el.classes:
            match = _NUMBERED_RE.match(normalise_ws(el.text()))
            assert match, el.text()
            entries.append(Entry(match["num"], match["title"], "", []))
            el.children = [f"{_MARK}{len(entries) - 1}"]
    blocks = html_blocks(root)
    doc: list[Block] = []
    spans: list[tuple[Entry, int, int]] = []
    current: tuple[Entry, int] | None = None
    for block in blocks:
        is_mark = block.kind == "heading" and block.text.startswith(_MARK.strip())
        if (is_mark or (block.kind == "heading" and block.level <= 3)) and current:
            spans.append((current[0], current[1], len(doc)))
            current = None
        if is_mark:
            current = (entries[int(block.text.strip()[len(_MARK.strip()):])], len(doc))
            continue
        doc.append(block)
    if current:
        spans.append((current[0], current[1], len(doc)))
    remove_elements(root, lambda el: el.tag == "h3" and _MARK in el.text())

    (corpus / corpus_name).write_text(serialize_html(root), encoding="utf-8")
    doc_text = document_text(corpus / corpus_name)
    assert doc_text == blocks_text(doc), f"{corpus_name}: written HTML does not read back"
    questions, skipped = [], []
    for entry, start, end in spans:
        gold = blocks_text(doc[start:end])
        if len(gold) < MIN_GOLD_CHARS:
            skipped.append(f"{corpus_name} {entry.number} {entry.title} "
                           f"(answer text only {len(gold)} chars)")
            continue
        assert gold in doc_text, f"gold of {entry.number} not in {corpus_name}"
        questions.append(EvalQuestion(
            id=f"{prefix}-{len(questions) + 1}", question=entry.title, document=corpus_name,
            gold=gold, answerable=True, section=entry.number,
        ))
    low = doc_text.lower()
    for t in titles:
        assert t not in low, f"question {t!r} leaked into {corpus_name}"
    return questions, skipped


def write_readme(out: Path, questions: Sequence[EvalQuestion], slice_qs: Sequence[EvalQuestion],
                 skipped: Sequence[str], version: str,
                 leaks: Sequence[tuple[str, str]]) -> None:
    stats = question_stats(questions)
    corpus = out / "corpus"
    faq_names = [name for _, name, _, _ in FAQS]
    faq_bytes = sum((corpus / n).stat().st_size for n in faq_names)
    dis_bytes = sum((corpus / n).stat().st_size for n in DISTRACTORS)
    readme = out / "README.md"
    total = dir_size(out) - (readme.stat().st_size if readme.exists() else 0)
    lines = [
        "# FFmpeg FAQ retrieval evaluation dataset (HTML, long reference pages)",
        "",
        f"The FFmpeg FAQ and the FFmpeg Mailing List FAQ from Debian's `{PACKAGE}` ({version}), "
        "question headings removed, among the package's HTML reference manuals. Licences: see "
        "[LICENSE-NOTICE.md](LICENSE-NOTICE.md).",
        "",
        "Shape: **HTML**, **long reference pages** (the manuals are texinfo HTML pages of up to "
        "a quarter megabyte, with navigation and tables of contents), answers with command "
        "lines in `<pre>` blocks.",
        "",
        "## Regenerating",
        "",
        "```sh",
        "python bench/build_ffmpeg_faq.py      # apt-get download of the pinned version",
        f"python bench/build_ffmpeg_faq.py --ffmpeg-doc {PACKAGE}_7%3a5.1.9-0+deb12u1_all.deb",
        "```",
        "",
        "Standard library only (plus `dpkg-deb`, and `apt-get` when downloading). Output is "
        "deterministic.",
        "",
        "## Contents",
        "",
        "| item | count | size |",
        "| --- | --- | --- |",
        f"| `corpus/ffmpeg-faq.html`, `corpus/mailing-list-faq.html` (question headings removed)"
        f" | {len(faq_names)} | {fmt_size(faq_bytes)} |",
        f"| other `corpus/*.html` (upstream manuals, unmodified) | {len(DISTRACTORS)} | "
        f"{fmt_size(dis_bytes)} |",
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
        "- The two FAQ pages are rewritten as plain HTML5 (`<h1>`-`<h4>`, `<p>`, `<ul>`, "
        "`<pre>`): table of contents, heading anchors and the makeinfo footer removed, every "
        "numbered question heading (`3.2 How do I encode single pictures into movies?`) "
        "removed; chapter headings (`3 Usage`) and non-question sub-sections (`3.14.1 "
        "Concatenating using the concat filter`) kept. Links whose text repeats a question "
        "now read `section N.M`.",
        f"- Distractors, byte for byte: {', '.join(f'`{d}`' for d in DISTRACTORS)}. "
        "`ffmpeg-filters.html` (1.4 MB) and the `*-all.html` concatenations are left out to "
        "keep a run of the set short (embedding runs at about 8 passages a second on two "
        "cores).",
        "",
        "## Question schema (`questions.jsonl`)",
        "",
        "| field | meaning |",
        "| --- | --- |",
        "| `id` | `ffmpeg-<n>` (FFmpeg FAQ), `ml-<n>` (mailing list FAQ), `unans-<n>` |",
        "| `question` | the FAQ heading, number stripped (some are statements of a problem, "
        "e.g. `-f jpeg doesn't work.`); hand-written if unanswerable |",
        "| `document` | corpus file holding the answer; `null` if unanswerable |",
        "| `gold` | whitespace-normalised text of the question's section, including its "
        "non-question sub-sections; `\"\"` if unanswerable |",
        "| `answerable` | `true` / `false` |",
        "| `section` | FAQ section number; `null` if unanswerable |",
        "| `split` | `tune` or `test` |",
        "",
        "The build asserts that every gold answer occurs in the whitespace-normalised text of "
        "its page as read back from the written HTML (`bench.docsrc.document_text`).",
        "",
        "The unanswerable questions are hand-written: near misses (other video tools and "
        "services, FFmpeg features and facts the pages do not cover; checked with grep on the "
        "corpus text), then a few off-topic ones.",
        "",
        "`questions-slice.jsonl`: every k-th answerable question (up to 25) plus every k-th "
        "unanswerable (up to 5); `corpus-slice.txt` lists the documents the slice test "
        f"ingests (the two FAQ pages plus {', '.join(SLICE_DISTRACTORS)}).",
        "",
        "## Skipped FAQ entries",
        "",
        *([f"- {s}" for s in skipped] or ["None."]),
        "",
        "## Question texts found in distractor pages",
        "",
        "The manuals' own text (tables of contents included) sometimes repeats a FAQ question; "
        "left as is:",
        "",
        *([f"- {qid} in `{doc}`" for qid, doc in leaks] or ["None."]),
        "",
    ]
    readme.write_text("\n".join(lines), encoding="utf-8")


def write_dataset(out: Path, root: Path) -> dict[str, object]:
    version = package_version(root, "ffmpeg-doc")
    check_version(PACKAGE, version, PINNED[PACKAGE])
    corpus = reset_corpus(out)
    questions: list[EvalQuestion] = []
    skipped: list[str] = []
    for src, name, title, prefix in FAQS:
        qs, sk = build_faq(root / MANUAL / src, name, title, prefix, corpus)
        questions += qs
        skipped += sk
    for name in DISTRACTORS:
        shutil.copyfile(root / MANUAL / name, corpus / name)
    leaks = check_question_leaks(
        questions, {name: document_text(corpus / name) for name in DISTRACTORS}
    )
    questions += unanswerable("unans", UNANSWERABLE)
    slice_qs = make_slice(questions)
    write_jsonl(out / "questions.jsonl", questions)
    write_jsonl(out / "questions-slice.jsonl", slice_qs)
    write_slice_corpus(out, slice_qs, SLICE_DISTRACTORS)
    (out / "LICENSE-NOTICE.md").write_text(license_notice(
        "FFmpeg FAQ",
        "The files under `corpus/` and the `question`/`gold` fields of `questions.jsonl` and "
        f"`questions-slice.jsonl` are derived from the Debian package `{PACKAGE}` {version} "
        "(FFmpeg's HTML documentation, `/usr/share/doc/ffmpeg/manual`).\n\n"
        "Derivation: `corpus/ffmpeg-faq.html` and `corpus/mailing-list-faq.html` are the "
        "package's `faq.html` and `mailing-list-faq.html` converted to plain HTML by "
        "`bench/build_ffmpeg_faq.py`, with the table of contents and the question headings "
        "removed (they are the evaluation questions, the text of each section the gold "
        "answer) and links that repeat a question shortened to the section number. Every "
        "other file under `corpus/` is the package's file of the same name, unmodified. The "
        "unanswerable questions were written for this dataset.",
        [(PACKAGE, version, "FFmpeg documentation", root)],
        "The GNU licences referred to above are at `/usr/share/common-licenses/` on Debian "
        "systems and at <https://www.gnu.org/licenses/>.",
    ), encoding="utf-8")
    write_readme(out, questions, slice_qs, skipped, version, leaks)
    return {"version": version, **question_stats(questions), "slice": len(slice_qs),
            "skipped": skipped, "leaks": leaks}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--ffmpeg-doc", type=Path, dest="ffmpeg_doc",
                        help=f"{PACKAGE} .deb or dpkg-deb -x directory "
                             "(default: apt-get download the pinned version)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"{NAME}_") as tmp:
        root = fetch_package(PACKAGE, PINNED[PACKAGE], args.ffmpeg_doc, Path(tmp))
        args.out.mkdir(parents=True, exist_ok=True)
        summary = write_dataset(args.out, root)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
