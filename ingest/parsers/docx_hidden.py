"""Text a reader cannot see in a Word (DOCX) document, removed before unstructured reads it.

A run's formatting is resolved as Word does for the properties that can hide it: the run's own
``w:rPr``, its character style, its paragraph's style (each with their ``w:basedOn`` chain)
and the document defaults. A run's text (``w:t``) is removed when the run is

- hidden: ``w:vanish`` or ``w:specVanish`` (the "Hidden" font effect);
- tiny: ``w:sz`` of ``MAX_HALF_POINTS`` half-points (1 pt) or less;
- the colour of its background, within ``NEAR`` on every channel: the run's shading or
  highlight, else its paragraph's shading, its table cell's shading, the page colour
  (``w:background``), else white; ``auto`` colours are visible (Word picks a contrasting one);
- inside a drawing (a text box) marked hidden (``wp:docPr hidden="1"``) or anchored off the
  page (an offset of ``OFF_PAGE_EMU`` or less).

Only the ``w:t`` elements go: runs, fields and paragraphs keep their structure, so the rest
of the document reads as before. Runs marked ``w:webHidden`` (hidden in Web Layout only,
e.g. the page numbers of a table of contents) stay.
"""

from __future__ import annotations

import collections
import contextlib
import io
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from ingest.parsers.html_hidden import near, visible_chars

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
DOCUMENT = "word/document.xml"
STYLES = "word/styles.xml"
MAX_HALF_POINTS = 2
OFF_PAGE_EMU = -914400 * 5  # five inches left of or above the anchor: off the page
_FALSE = ("0", "false", "off")
# w:highlight colour names (ST_HighlightColor) as RGB.
_HIGHLIGHT = {
    "black": (0, 0, 0), "blue": (0, 0, 255), "cyan": (0, 255, 255), "green": (0, 255, 0),
    "magenta": (255, 0, 255), "red": (255, 0, 0), "yellow": (255, 255, 0),
    "white": (255, 255, 255), "darkBlue": (0, 0, 128), "darkCyan": (0, 128, 128),
    "darkGreen": (0, 128, 0), "darkMagenta": (128, 0, 128), "darkRed": (128, 0, 0),
    "darkYellow": (128, 128, 0), "darkGray": (128, 128, 128), "lightGray": (192, 192, 192),
}
Props = dict[str, Any]


def parse_xml(data: bytes) -> Any:
    """An Office package part parsed without entities, DTDs or network access.

    Every OOXML reader of ``ingest/parsers`` parses parts through this one function.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False)
    return etree.fromstring(data, parser=parser)


def parse_rgb(value: str | None) -> tuple[int, int, int] | None:
    """An OOXML ``RRGGBB`` colour as a tuple; None for ``auto``, empty or malformed values."""
    if not value or len(value) != 6:
        return None
    try:
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    except ValueError:
        return None


def _shading(shd: Any) -> tuple[int, int, int] | None:
    """The colour a ``w:shd`` paints (its fill, or its pattern colour when solid)."""
    if shd is None:
        return None
    if shd.get(W + "val") == "solid":
        return parse_rgb(shd.get(W + "color"))
    return parse_rgb(shd.get(W + "fill"))


def _props(rpr: Any) -> Props:
    """The hiding-relevant properties a ``w:rPr`` sets."""
    found: Props = {}
    if rpr is None:
        return found
    for tag in ("vanish", "specVanish"):
        el = rpr.find(W + tag)
        if el is not None:
            found["vanish"] = (el.get(W + "val") or "true").lower() not in _FALSE
    color = rpr.find(W + "color")
    if color is not None and color.get(W + "val"):
        found["color"] = color.get(W + "val")
    size = rpr.find(W + "sz")
    if size is not None:
        with contextlib.suppress(ValueError):
            found["sz"] = int(size.get(W + "val") or "")
    shd = _shading(rpr.find(W + "shd"))
    if shd is not None:
        found["background"] = shd
    highlight = rpr.find(W + "highlight")
    if highlight is not None and highlight.get(W + "val") in _HIGHLIGHT:
        found["background"] = _HIGHLIGHT[highlight.get(W + "val")]
    return found


class _Styles:
    """Run properties of the document's styles (``w:basedOn`` chains resolved)."""

    def __init__(self, styles_xml: bytes | None) -> None:
        self._own: dict[str, tuple[str | None, Props]] = {}
        self._resolved: dict[str, Props] = {}
        self.defaults: Props = {}
        self.default_paragraph: str | None = None
        if styles_xml is None:
            return
        root = parse_xml(styles_xml)
        self.defaults = _props(root.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr"))
        for style in root.iter(W + "style"):
            style_id = style.get(W + "styleId")
            if not style_id:
                continue
            based = style.find(W + "basedOn")
            self._own[style_id] = (None if based is None else based.get(W + "val"),
                                   _props(style.find(W + "rPr")))
            if style.get(W + "type") == "paragraph" and (
                (style.get(W + "default") or "").lower() in ("1", "true", "on")
            ):
                self.default_paragraph = style_id

    def props(self, style_id: str | None) -> Props:
        if not style_id or style_id not in self._own:
            return {}
        if style_id not in self._resolved:
            chain, seen, current = [], set(), style_id
            while current in self._own and current not in seen and len(chain) < 50:
                seen.add(current)
                chain.append(self._own[current][1])
                current = self._own[current][0]  # type: ignore[assignment]
            merged: Props = {}
            for own in reversed(chain):
                merged.update(own)
            self._resolved[style_id] = merged
        return self._resolved[style_id]


def _first(el: Any, tag: str) -> Any:
    return next(el.iterancestors(tag), None)


def _run_reason(run: Any, styles: _Styles, page: tuple[int, int, int]) -> str | None:
    """Why a run's text is invisible, or None."""
    paragraph = _first(run, W + "p")
    ppr = None if paragraph is None else paragraph.find(W + "pPr")
    pstyle = None if ppr is None else ppr.find(W + "pStyle")
    rpr = run.find(W + "rPr")
    rstyle = None if rpr is None else rpr.find(W + "rStyle")
    props: Props = dict(styles.defaults)
    props.update(styles.props(styles.default_paragraph if pstyle is None
                              else pstyle.get(W + "val")))
    props.update(styles.props(None if rstyle is None else rstyle.get(W + "val")))
    props.update(_props(rpr))
    if props.get("vanish"):
        return "hidden-run"
    if props.get("sz") is not None and props["sz"] <= MAX_HALF_POINTS:
        return "tiny"
    color = parse_rgb(props.get("color"))
    if color is None:  # "auto" or none: Word shows it in a contrasting colour
        return None
    background = props.get("background")
    if background is None and ppr is not None:
        background = _shading(ppr.find(W + "shd"))
    if background is None:
        cell = _first(run, W + "tc")
        tcpr = None if cell is None else cell.find(W + "tcPr")
        background = None if tcpr is None else _shading(tcpr.find(W + "shd"))
    background = background or page
    if near(color, background):
        return "background-colour"
    return None


def _drawing_reason(drawing: Any) -> str | None:
    """Why a drawing (a text box, a shape) cannot be seen, or None."""
    for doc_pr in drawing.iter(WP + "docPr"):
        if (doc_pr.get("hidden") or "").lower() in ("1", "true"):
            return "hidden-shape"
    for offset in drawing.iter(WP + "posOffset"):
        try:
            if int((offset.text or "").strip()) <= OFF_PAGE_EMU:
                return "off-page"
        except ValueError:
            continue
    return None


def strip_hidden(root: Any, styles: _Styles) -> dict[str, int]:
    """Remove the text of invisible runs from a ``word/document.xml`` tree, in place.

    Returns the characters removed (whitespace not counted) by reason; empty if none.
    """
    background = root.find(W + "background")
    page = parse_rgb(None if background is None else background.get(W + "color")) or (255, 255, 255)
    removed: collections.Counter[str] = collections.Counter()
    doomed: list[tuple[Any, str]] = []
    for drawing in root.iter(W + "drawing"):
        why = _drawing_reason(drawing)
        if why is not None:
            doomed.extend((t, why) for t in drawing.iter(W + "t"))
    gone = {id(t) for t, _ in doomed}
    for run in root.iter(W + "r"):
        texts = [t for t in run.findall(W + "t") if id(t) not in gone]
        if not texts or not any((t.text or "").strip() for t in texts):
            continue
        why = _run_reason(run, styles, page)
        if why is not None:
            doomed.extend((t, why) for t in texts)
    for t, why in doomed:
        removed[why] += visible_chars(t.text)
        parent = t.getparent()
        if parent is not None:
            parent.remove(t)
    return {reason: n for reason, n in removed.items() if n}


def clean_docx(path: Path) -> tuple[bytes | None, dict[str, int]]:
    """``(the package without hidden text, characters removed by reason)``.

    The package is None (read the file as it is) when nothing was hidden.
    """
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if DOCUMENT not in names:
            return None, {}
        root = parse_xml(zf.read(DOCUMENT))
        styles = _Styles(zf.read(STYLES) if STYLES in names else None)
        removed = strip_hidden(root, styles)
        if not removed:
            return None, {}
        return rewrite_package(zf, {DOCUMENT: serialize_part(root)}), removed


def serialize_part(root: Any) -> bytes:
    """A package part's XML as bytes, with its declaration."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def rewrite_package(zf: zipfile.ZipFile, changed: dict[str, bytes]) -> bytes:
    """The Office package ``zf`` with the parts in ``changed`` replaced (DOCX, PPTX, XLSX)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in zf.infolist():
            data = changed.get(info.filename)
            new.writestr(info, data if data is not None else zf.read(info),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
