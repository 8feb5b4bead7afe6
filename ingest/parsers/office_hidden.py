"""Content a reader cannot see in PowerPoint (PPTX) and Excel (XLSX) files, removed early.

Removed before unstructured reads the package, as :mod:`ingest.parsers.docx_hidden` does
for Word.

PPTX (``ppt/slides/slide*.xml``): the text (``a:t``) of

- a hidden slide (``<p:sld show="0">``, skipped by a slide show): reason ``hidden-slide``;
- a shape marked hidden (``p:cNvPr hidden="1"``, the selection pane's eye): ``hidden-shape``;
- a shape that lies entirely off the slide (its box, ``a:xfrm``, outside ``p:sldSz``):
  ``off-slide``.

The slides themselves stay, so slide numbers (the page numbers of passages) do not move.
Speaker notes are not read at all (unstructured leaves them out).

XLSX (``xl/worksheets/*.xml``): the cells (``c``, values and formulas) of

- a hidden sheet (``state="hidden"`` or ``"veryHidden"`` in ``xl/workbook.xml``):
  ``hidden-sheet``;
- a hidden row (``hidden="1"``, including rows a collapsed outline or a filter hides) or one
  of zero height: ``hidden-row``;
- a hidden column (``col hidden="1"``) or one of zero width: ``hidden-column``.

The sheets, rows and columns themselves stay (an emptied sheet gives no text). Characters are
counted as in DOCX: whitespace not counted; a shared string counts once per cell that shows it.
"""

from __future__ import annotations

import collections
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any

from ingest.parsers.docx_hidden import _xml, rewrite_package, serialize_part

P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PR = "{http://schemas.openxmlformats.org/package/2006/relationships}"
PRESENTATION = "ppt/presentation.xml"
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
SHARED_STRINGS = "xl/sharedStrings.xml"
_SLIDE = re.compile(r"^ppt/slides/slide\d+\.xml$")
_SHAPES = (P + "sp", P + "graphicFrame", P + "grpSp", P + "pic", P + "cxnSp")
_TRUE = ("1", "true", "on")
_HIDDEN_STATES = ("hidden", "veryHidden")
_CELL_REF = re.compile(r"^([A-Za-z]{1,3})\d*$")
_DEFAULT_SLIDE = (9144000, 6858000)  # 4:3 in EMU, when presentation.xml does not say


def _chars(text: str | None) -> int:
    return sum(1 for ch in text or "" if not ch.isspace())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- PowerPoint ---------------------------------------------------------------------------------
def _slide_size(zf: zipfile.ZipFile, names: set[str]) -> tuple[int, int]:
    if PRESENTATION not in names:
        return _DEFAULT_SLIDE
    size = _xml(zf.read(PRESENTATION)).find(P + "sldSz")
    cx = _int(None if size is None else size.get("cx"))
    cy = _int(None if size is None else size.get("cy"))
    return (cx, cy) if cx and cy else _DEFAULT_SLIDE


def _off_slide(shape: Any, width: int, height: int) -> bool:
    """Whether a top-level shape's box lies entirely outside the slide."""
    xfrm = next((el for el in shape.iter(A + "xfrm", P + "xfrm")), None)
    if xfrm is None:
        return False  # placed by its layout placeholder: on the slide
    off, ext = xfrm.find(A + "off"), xfrm.find(A + "ext")
    x, y = (_int(off.get("x")), _int(off.get("y"))) if off is not None else (None, None)
    cx, cy = (_int(ext.get("cx")), _int(ext.get("cy"))) if ext is not None else (0, 0)
    if x is None or y is None:
        return False
    return x + (cx or 0) <= 0 or y + (cy or 0) <= 0 or x >= width or y >= height


def _strip_texts(el: Any, why: str, removed: collections.Counter[str]) -> None:
    for t in list(el.iter(A + "t")):
        removed[why] += _chars(t.text)
        t.text = ""


def strip_hidden_slide(root: Any, size: tuple[int, int]) -> dict[str, int]:
    """Empty the text of a slide's invisible content (a ``p:sld`` tree), in place.

    Returns the characters removed by reason; empty if none.
    """
    removed: collections.Counter[str] = collections.Counter()
    if (root.get("show") or "1").lower() in ("0", "false", "off"):
        _strip_texts(root, "hidden-slide", removed)
        return {k: n for k, n in removed.items() if n}
    for c_nv_pr in root.iter(P + "cNvPr"):
        if (c_nv_pr.get("hidden") or "").lower() in _TRUE:
            shape = next(c_nv_pr.iterancestors(*_SHAPES), None)  # p:nvSpPr's shape
            if shape is not None:
                _strip_texts(shape, "hidden-shape", removed)
    tree = root.find(f"{P}cSld/{P}spTree")
    if tree is not None:
        for shape in tree:
            if shape.tag in _SHAPES and _off_slide(shape, *size):
                _strip_texts(shape, "off-slide", removed)
    return {k: n for k, n in removed.items() if n}


def clean_pptx(path: Path) -> tuple[bytes | None, dict[str, int]]:
    """``(the package without invisible slide text, characters removed by reason)``.

    The package is None (read the file as it is) when nothing was hidden.
    """
    removed: collections.Counter[str] = collections.Counter()
    changed: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        size = _slide_size(zf, names)
        for name in sorted(n for n in names if _SLIDE.match(n)):
            root = _xml(zf.read(name))
            found = strip_hidden_slide(root, size)
            if found:
                removed.update(found)
                changed[name] = serialize_part(root)
        if not changed:
            return None, {}
        return rewrite_package(zf, changed), dict(sorted(removed.items()))


# -- Excel --------------------------------------------------------------------------------------
def _column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _shared_strings(zf: zipfile.ZipFile, names: set[str]) -> list[str]:
    if SHARED_STRINGS not in names:
        return []
    root = _xml(zf.read(SHARED_STRINGS))
    # A string item's text: its own t, or its rich-text runs' (phonetic guides not shown).
    return ["".join(t.text or "" for t in si.iter(S + "t")
                    if t.getparent() is not None and t.getparent().tag != S + "rPh")
            for si in root.iter(S + "si")]


def _hidden_sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> set[str]:
    """The worksheet parts of the sheets ``xl/workbook.xml`` marks hidden or very hidden."""
    if WORKBOOK not in names or WORKBOOK_RELS not in names:
        return set()
    ids = {sheet.get(R + "id") for sheet in _xml(zf.read(WORKBOOK)).iter(S + "sheet")
           if sheet.get("state") in _HIDDEN_STATES}
    parts = set()
    for rel in _xml(zf.read(WORKBOOK_RELS)).iter(PR + "Relationship"):
        target = rel.get("Target") or ""
        if rel.get("Id") in ids and target:
            parts.add(target.lstrip("/") if target.startswith("/")
                      else posixpath.normpath(posixpath.join("xl", target)))
    return parts


def _hidden_columns(root: Any) -> list[tuple[int, int]]:
    spans = []
    for col in root.iter(S + "col"):
        width = col.get("width")
        zero = width is not None and _float(width) == 0.0
        if (col.get("hidden") or "").lower() in _TRUE or zero:
            lo, hi = _int(col.get("min")), _int(col.get("max"))
            if lo is not None and hi is not None:
                spans.append((lo, hi))
    return spans


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _cell_chars(cell: Any, strings: list[str]) -> int:
    kind = cell.get("t")
    if kind == "inlineStr":
        return sum(_chars(t.text) for t in cell.iter(S + "t"))
    value = cell.find(S + "v")
    text = None if value is None else value.text
    if kind == "s":
        index = _int(text)
        return _chars(strings[index]) if index is not None and 0 <= index < len(strings) else 0
    return _chars(text)


def strip_hidden_cells(root: Any, sheet_hidden: bool, strings: list[str]) -> dict[str, int]:
    """Remove the cells of a worksheet (a ``worksheet`` tree) a reader cannot see, in place.

    Returns the characters removed by reason; empty if none.
    """
    removed: collections.Counter[str] = collections.Counter()
    data = root.find(S + "sheetData")
    if data is None:
        return {}
    columns = [] if sheet_hidden else _hidden_columns(root)
    for row in data.iter(S + "row"):
        if sheet_hidden:
            row_why: str | None = "hidden-sheet"
        elif (row.get("hidden") or "").lower() in _TRUE or (
                row.get("ht") is not None and _float(row.get("ht") or "") == 0.0):
            row_why = "hidden-row"
        else:
            row_why = None
        column = 0
        for cell in list(row.iter(S + "c")):
            match = _CELL_REF.match(cell.get("r") or "")
            column = _column_index(match.group(1)) if match else column + 1
            why = row_why or ("hidden-column" if any(lo <= column <= hi for lo, hi in columns)
                              else None)
            if why is None:
                continue
            removed[why] += _cell_chars(cell, strings)
            row.remove(cell)
    return {k: n for k, n in removed.items() if n}


_HIDING = (b"hidden", b'ht="0', b"ht='0", b'width="0', b"width='0")


def clean_xlsx(path: Path) -> tuple[bytes | None, dict[str, int]]:
    """``(the package without invisible cells, characters removed by reason)``.

    The package is None (read the file as it is) when nothing was hidden.
    """
    removed: collections.Counter[str] = collections.Counter()
    changed: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        hidden_sheets = _hidden_sheet_parts(zf, names)
        strings: list[str] | None = None
        for name in sorted(n for n in names if n.startswith("xl/worksheets/")
                           and n.endswith(".xml")):
            data = zf.read(name)
            sheet_hidden = name in hidden_sheets
            if not sheet_hidden and not any(marker in data for marker in _HIDING):
                continue  # the usual case: nothing in this sheet can be hidden
            if strings is None:
                strings = _shared_strings(zf, names)
            root = _xml(data)
            found = strip_hidden_cells(root, sheet_hidden, strings)
            if found:
                removed.update(found)
                changed[name] = serialize_part(root)
        if not changed:
            return None, {}
        return rewrite_package(zf, changed), dict(sorted(removed.items()))
