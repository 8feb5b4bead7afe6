"""A Word document's title above its headings.

Word's "Title" paragraph style names the document; "Heading 1" is the first section level
beneath it. ``unstructured`` gives both heading depth 0, so a man page written as Title
"curl_easy_duphandle - Clone a libcurl session handle" then Heading 1 "SYNOPSIS" yields the
heading path ``SYNOPSIS`` alone, and the chunk embedded under it says nothing about which
function it is. :func:`nest_under_title` puts every heading one level under the document's
Title paragraphs, so the path reads ``curl_easy_duphandle - Clone ... > SYNOPSIS``.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from typing import IO, Any

from ingest.parsers.docx_hidden import DOCUMENT, STYLES, W, parse_xml
from ingest.types import Block

TITLE_STYLE = "title"  # the built-in style's name (w:name), whatever its id or UI language


def _norm(text: str) -> str:
    return " ".join(text.split())


def title_texts(source: str | IO[bytes]) -> frozenset[str]:
    """The text of every paragraph styled Title in a DOCX package.

    ``source`` is a path or a binary file (rewound afterwards). Empty when there is none or
    the package cannot be read.
    """
    try:
        with zipfile.ZipFile(source) as zf:
            names = zf.namelist()
            if DOCUMENT not in names or STYLES not in names:
                return frozenset()
            ids = {s.get(W + "styleId") for s in parse_xml(zf.read(STYLES)).iter(W + "style")
                   if (s.find(W + "name") is not None
                       and (s.find(W + "name").get(W + "val") or "").lower() == TITLE_STYLE)}
            if not ids:
                return frozenset()
            out = set()
            for p in parse_xml(zf.read(DOCUMENT)).iter(W + "p"):
                style = p.find(f"{W}pPr/{W}pStyle")
                if style is not None and style.get(W + "val") in ids:
                    text = _norm("".join(t.text or "" for t in p.iter(W + "t")))
                    if text:
                        out.add(text)
            return frozenset(out)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        return frozenset()  # unstructured reports an unreadable package itself
    finally:
        seek: Any = getattr(source, "seek", None)
        if seek is not None:
            seek(0)


def nest_under_title(blocks: list[Block], titles: frozenset[str]) -> list[Block]:
    """``blocks`` with each heading one level deeper unless it is one of ``titles``."""
    if not titles:
        return blocks
    return [b if b.kind != "title" else
            replace(b, depth=0) if _norm(b.text) in titles else
            replace(b, depth=(b.depth or 0) + 1)
            for b in blocks]
