"""Content a reader cannot see in PowerPoint (PPTX) and Excel (XLSX) files, removed early.

Removed before unstructured reads the package, as :mod:`ingest.parsers.docx_hidden` does
for Word.

PPTX (``ppt/slides/slide*.xml``): the text (``a:t``) of

- a hidden slide (``<p:sld show="0">``, skipped by a slide show): reason ``hidden-slide``;
- a shape marked hidden (``p:cNvPr hidden="1"``, the selection pane's eye): ``hidden-shape``;
- a shape that lies entirely off the slide (its box, ``a:xfrm``, outside ``p:sldSz``):
  ``off-slide``;
- a run (``a:r``) of 1 pt or less (``sz`` up to ``MAX_PPTX_SIZE``), as in DOCX: ``tiny``;
- a run whose solid colour is within ``NEAR`` (per channel) of what it sits on:
  ``background-colour``.

A run's size and colour come from its ``a:rPr``, else its paragraph's ``a:pPr/a:defRPr``, else
the shape's own list style (``a:lstStyle``, the paragraph's level); what a layout or master
placeholder passes down is not resolved (such text is kept). What the run sits on: a table
cell's own solid fill, else the shape's own solid fill, else the slide's background, else the
layout's, else the master's (``p:bgPr`` solid fills and the theme's solid ``p:bgRef``), else
white. Theme colours ``bg1``/``tx1``/``bg2``/``tx2`` (through the colour map) and
``lt1``/``dk1``/``lt2``/``dk2`` are read from the master's theme. Anything else is treated as
unknown and the text is kept: other theme colours, colour modifiers (``lumMod``, ``alpha``),
gradient, picture and pattern fills, a shape's theme-style fill (``p:style/a:fillRef``), table
cells without their own fill (table styles paint them), shapes in groups, and a text shape
without a fill that overlaps a filled shape or a picture beneath it (on the slide, its layout
or its master).

The slides themselves stay, so slide numbers (the page numbers of passages) do not move.
Speaker notes are not read at all (unstructured leaves them out).

XLSX (``xl/worksheets/*.xml``): the cells (``c``, values and formulas) of

- a hidden sheet (``state="hidden"`` or ``"veryHidden"`` in ``xl/workbook.xml``):
  ``hidden-sheet``;
- a hidden row (``hidden="1"``, including rows a collapsed outline or a filter hides) or one
  of zero height: ``hidden-row``;
- a hidden column (``col hidden="1"``) or one of zero width: ``hidden-column``;
- a cell whose number format hides its value (every section empty, as ``;;;``; two or three
  empty sections hide numbers only): ``format-hidden``;
- a cell whose font (its style, ``s`` -> ``cellXfs`` -> ``fontId``) is 1 pt or less: ``tiny``;
- a cell whose font colour is within ``NEAR`` of its fill (a solid ``patternFill``'s
  ``fgColor``; no fill: white): ``background-colour``. Colours are ``rgb`` or theme 0-3
  (light 1, dark 1, light 2, dark 2) without a tint; other fills and colours (patterns,
  gradients, indexed, tinted) count as unknown and the cell is kept, as are rich-text strings
  whose runs set their own colour or size and every cell of a sheet with conditional
  formatting or a table (either can repaint the cell).

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

from ingest.parsers.docx_hidden import parse_rgb, parse_xml, rewrite_package, serialize_part
from ingest.parsers.html_hidden import near, visible_chars

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
_FALSE = ("0", "false", "off")
_HIDDEN_STATES = ("hidden", "veryHidden")
_CELL_REF = re.compile(r"^([A-Za-z]{1,3})\d*$")
_DEFAULT_SLIDE = (9144000, 6858000)  # 4:3 in EMU, when presentation.xml does not say
MAX_PPTX_SIZE = 100  # a:rPr sz, hundredths of a point: 1 pt (the least PowerPoint allows) or less
MAX_XLSX_POINTS = 1.0  # font sz, points: 1 pt (the least Excel allows) or less
STYLES = "xl/styles.xml"
_WHITE = (255, 255, 255)
Rgb = tuple[int, int, int]
_UNKNOWN = "unknown"  # a fill or colour not resolved: nothing under it is judged
_NONE = "none"  # no fill here: look at what lies beneath
_MAPPED = ("bg1", "tx1", "bg2", "tx2")
_THEME = ("lt1", "dk1", "lt2", "dk2")
_PRESET = {"white": _WHITE, "black": (0, 0, 0)}
_OTHER_FILLS = (A + "gradFill", A + "blipFill", A + "pattFill", A + "grpFill")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- PowerPoint ---------------------------------------------------------------------------------
def _slide_size(zf: zipfile.ZipFile, names: set[str]) -> tuple[int, int]:
    if PRESENTATION not in names:
        return _DEFAULT_SLIDE
    size = parse_xml(zf.read(PRESENTATION)).find(P + "sldSz")
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
        removed[why] += visible_chars(t.text)
        t.text = ""


def _part_rels(zf: zipfile.ZipFile, names: set[str], part: str) -> dict[str, str]:
    """A part's relationships: the type's last word -> the first target's part name."""
    rels = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if rels not in names:
        return {}
    found: dict[str, str] = {}
    for rel in parse_xml(zf.read(rels)).iter(PR + "Relationship"):
        kind, target = (rel.get("Type") or "").rsplit("/", 1)[-1], rel.get("Target") or ""
        if target and (rel.get("TargetMode") or "") != "External" and kind not in found:
            found[kind] = (target.lstrip("/") if target.startswith("/") else
                           posixpath.normpath(posixpath.join(posixpath.dirname(part), target)))
    return found


class _Look:
    """What a slide's colours resolve against: its layout, master, theme and colour map."""

    def __init__(self, zf: zipfile.ZipFile, names: set[str], slide: str, root: Any,
                 cache: dict[str, Any]) -> None:
        def load(part: str | None) -> Any:
            if not part or part not in names:
                return None
            if part not in cache:
                cache[part] = parse_xml(zf.read(part))
            return cache[part]

        layout_part = _part_rels(zf, names, slide).get("slideLayout")
        master_part = _part_rels(zf, names, layout_part).get("slideMaster") if layout_part \
            else None
        theme_part = _part_rels(zf, names, master_part).get("theme") if master_part else None
        self.layout, self.master, theme = load(layout_part), load(master_part), load(theme_part)
        self.slide = root
        self.scheme: dict[str, Rgb] = {}
        self.bg_styles: list[Any] = []
        if theme is not None:
            scheme = theme.find(f"{A}themeElements/{A}clrScheme")
            for name in _THEME:
                el = None if scheme is None else scheme.find(A + name)
                child = None if el is None or len(el) == 0 else el[0]
                if child is not None and len(child) == 0:
                    value = child.get("val") if child.tag == A + "srgbClr" else (
                        child.get("lastClr") if child.tag == A + "sysClr" else None)
                    rgb = parse_rgb(value)
                    if rgb is not None:
                        self.scheme[name] = rgb
            styles = theme.find(f"{A}themeElements/{A}fmtScheme/{A}bgFillStyleLst")
            self.bg_styles = [] if styles is None else list(styles)
        self.map: dict[str, str] = {}
        clr_map = None if self.master is None else self.master.find(P + "clrMap")
        if clr_map is not None:
            self.map = {k: clr_map.get(k) or "" for k in _MAPPED}
        for part in (self.layout, root):  # an override replaces the master's map
            over = None if part is None else part.find(f"{P}clrMapOvr/{A}overrideClrMapping")
            if over is not None:
                self.map = {k: over.get(k) or "" for k in _MAPPED}

    def colour(self, el: Any, placeholder: Rgb | str = _UNKNOWN) -> Rgb | str:
        """The RGB of a colour element (``a:srgbClr``, ``a:schemeClr``...), else unknown."""
        if el is None or len(el) != 0:
            return _UNKNOWN  # modifiers (lumMod, alpha, tint...) change it: not judged
        value = el.get("val") or ""
        if el.tag == A + "srgbClr":
            return parse_rgb(value) or _UNKNOWN
        if el.tag == A + "sysClr":
            return parse_rgb(el.get("lastClr")) or _UNKNOWN
        if el.tag == A + "prstClr":
            return _PRESET.get(value, _UNKNOWN)
        if el.tag == A + "schemeClr":
            if value == "phClr":
                return placeholder
            value = self.map.get(value, "") if value in _MAPPED else value
            return self.scheme.get(value, _UNKNOWN) if value in _THEME else _UNKNOWN
        return _UNKNOWN

    def fill(self, props: Any, placeholder: Rgb | str = _UNKNOWN) -> Rgb | str | None:
        """The fill a properties element (``p:spPr``, ``a:tcPr``, ``p:bgPr``) sets.

        An RGB, ``_NONE`` (``a:noFill``), ``_UNKNOWN``, or None when it sets none.
        """
        if props is None:
            return None
        for child in props:
            if child.tag == A + "noFill":
                return _NONE
            if child.tag == A + "solidFill":
                return self.colour(child[0] if len(child) else None, placeholder)
            if child.tag in _OTHER_FILLS:
                return _UNKNOWN
        return None

    def background(self) -> Rgb | str:
        """The slide's background: its own, its layout's, its master's, else white."""
        for part in (self.slide, self.layout, self.master):
            bg = None if part is None else part.find(f"{P}cSld/{P}bg")
            if bg is None:
                continue
            bg_pr, bg_ref = bg.find(P + "bgPr"), bg.find(P + "bgRef")
            if bg_pr is not None:
                found = self.fill(bg_pr)
                return found if isinstance(found, tuple) else _UNKNOWN
            if bg_ref is not None:
                index = _int(bg_ref.get("idx")) or 0
                style = (self.bg_styles[index - 1001]
                         if 1001 <= index < 1001 + len(self.bg_styles) else None)
                if style is None or style.tag != A + "solidFill" or len(style) != 1:
                    return _UNKNOWN
                colour = self.colour(bg_ref[0] if len(bg_ref) else None)
                return self.colour(style[0], colour)
            return _UNKNOWN
        return _WHITE


def _box(shape: Any) -> tuple[int, int, int, int] | None:
    xfrm = next((el for el in shape.iter(A + "xfrm", P + "xfrm")), None)
    off = None if xfrm is None else xfrm.find(A + "off")
    ext = None if xfrm is None else xfrm.find(A + "ext")
    if off is None or ext is None:
        return None
    values = [_int(off.get("x")), _int(off.get("y")), _int(ext.get("cx")), _int(ext.get("cy"))]
    if any(v is None for v in values):
        return None
    x, y, cx, cy = values  # type: ignore[misc]
    return (x, y, x + cx, y + cy)


def _placeholder(shape: Any) -> bool:
    return any(el.tag == P + "ph" for el in shape.iter(P + "ph"))


def _paints(shape: Any, look: _Look) -> bool:
    """Whether a shape could paint something a text shape above it sits on."""
    if shape.tag != P + "sp":
        return shape.tag != P + "cxnSp"  # pictures, tables, charts, groups, unknown markup
    own = look.fill(shape.find(P + "spPr"))
    if own is None:
        ref = shape.find(f"{P}style/{A}fillRef")
        return ref is not None and (_int(ref.get("idx")) or 0) != 0
    return own != _NONE


def _covered(shape: Any, tree: Any, look: _Look) -> bool:
    """Whether a filled shape or picture beneath ``shape`` (a top-level shape) may overlap it."""
    box = _box(shape)

    def overlaps(other: Any) -> bool:
        theirs = _box(other)
        if box is None or theirs is None:
            return True
        return not (theirs[2] <= box[0] or theirs[0] >= box[2] or theirs[3] <= box[1]
                    or theirs[1] >= box[3])

    beneath = []
    for el in tree:
        if el is shape:
            break
        beneath.append(el)
    # A layout's or master's placeholders are not drawn on the slide; their other shapes are.
    shown = [look.layout] if (look.slide.get("showMasterSp") or "1") not in _FALSE else []
    if shown and look.layout is not None and (look.layout.get("showMasterSp") or "1") \
            not in _FALSE:
        shown.append(look.master)
    for part in shown:
        under = None if part is None else part.find(f"{P}cSld/{P}spTree")
        if under is not None:
            beneath.extend(el for el in under if not _placeholder(el))
    return any(_paints(el, look) and overlaps(el) for el in beneath
               if el.tag in _SHAPES or str(el.tag).endswith("AlternateContent"))


def _run_props(run: Any, body: Any) -> tuple[int | None, Any]:
    """A run's size and colour element (``a:solidFill``'s child, or an ``a:...Fill`` itself)."""
    paragraph = next(run.iterancestors(A + "p"), None)
    ppr = None if paragraph is None else paragraph.find(A + "pPr")
    level = (_int(None if ppr is None else ppr.get("lvl")) or 0) + 1
    chain = [run.find(A + "rPr"), None if ppr is None else ppr.find(A + "defRPr")]
    style = None if body is None else body.find(A + "lstStyle")
    if style is not None:
        lvl = style.find(f"{A}lvl{level}pPr")
        chain.append(None if lvl is None else lvl.find(A + "defRPr"))
    size, colour = None, None
    for rpr in chain:
        if rpr is None:
            continue
        if size is None:
            size = _int(rpr.get("sz"))
        if colour is None:
            colour = next((c for c in rpr if c.tag in (A + "solidFill", A + "noFill")
                           or c.tag in _OTHER_FILLS), None)
    return size, colour


def _run_reason(run: Any, look: _Look, slide_bg: Rgb | str,
                covered: dict[Any, bool], tree: Any) -> str | None:
    body = next(run.iterancestors(P + "txBody", A + "txBody"), None)
    size, fill = _run_props(run, body)
    if size is not None and size <= MAX_PPTX_SIZE:
        return "tiny"
    if fill is None or fill.tag != A + "solidFill":
        return None  # inherited, theme-styled, no fill or a gradient: not judged
    colour = look.colour(fill[0] if len(fill) else None)
    if not isinstance(colour, tuple):
        return None
    rpr = run.find(A + "rPr")
    highlight = None if rpr is None else rpr.find(A + "highlight")
    if highlight is not None:
        under: Rgb | str | None = look.colour(highlight[0] if len(highlight) else None)
    else:
        under = None
        cell = next(run.iterancestors(A + "tc"), None)
        if cell is not None:
            under = look.fill(cell.find(A + "tcPr"))
            under = _UNKNOWN if under is None else (None if under == _NONE else under)
        shape = next(run.iterancestors(P + "sp", P + "graphicFrame"), None)
        if under is None and shape is not None:
            under = look.fill(shape.find(P + "spPr"))
            if under is None and shape.find(f"{P}style/{A}fillRef") is not None and (
                    _int(shape.find(f"{P}style/{A}fillRef").get("idx")) or 0) != 0:
                under = _UNKNOWN  # the theme's shape style fills it
            under = None if under == _NONE else under
        if under is None:
            if shape is None or shape.getparent() is not tree:
                return None  # in a group: not judged
            if shape not in covered:  # keyed by the element (kept alive), not by id()
                covered[shape] = _covered(shape, tree, look)
            under = _UNKNOWN if covered[shape] else slide_bg
    if not isinstance(under, tuple):
        return None
    if near(colour, under):
        return "background-colour"
    return None


def _strip_runs(root: Any, look: _Look, removed: collections.Counter[str]) -> None:
    tree = root.find(f"{P}cSld/{P}spTree")
    if tree is None:
        return
    slide_bg = look.background()
    covered: dict[Any, bool] = {}
    for run in tree.iter(A + "r"):
        texts = [t for t in run.findall(A + "t") if visible_chars(t.text)]
        if not texts:
            continue
        why = _run_reason(run, look, slide_bg, covered, tree)
        if why is not None:
            for t in texts:
                removed[why] += visible_chars(t.text)
                t.text = ""


def strip_hidden_slide(root: Any, size: tuple[int, int],
                       look: _Look | None = None) -> dict[str, int]:
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
    if look is not None:
        _strip_runs(root, look, removed)
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
        cache: dict[str, Any] = {}
        for name in sorted(n for n in names if _SLIDE.match(n)):
            root = parse_xml(zf.read(name))
            found = strip_hidden_slide(root, size, _Look(zf, names, name, root, cache))
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


def _shared_strings(zf: zipfile.ZipFile, names: set[str]) -> tuple[list[str], list[bool]]:
    """The shared strings' text, and whether each one's runs set their own colour or size."""
    if SHARED_STRINGS not in names:
        return [], []
    root = parse_xml(zf.read(SHARED_STRINGS))
    items = list(root.iter(S + "si"))
    # A string item's text: its own t, or its rich-text runs' (phonetic guides not shown).
    return (["".join(t.text or "" for t in si.iter(S + "t")
                     if t.getparent() is not None and t.getparent().tag != S + "rPh")
             for si in items], [_rich(si) for si in items])


def _hidden_sheet_parts(zf: zipfile.ZipFile, names: set[str]) -> set[str]:
    """The worksheet parts of the sheets ``xl/workbook.xml`` marks hidden or very hidden."""
    if WORKBOOK not in names or WORKBOOK_RELS not in names:
        return set()
    ids = {sheet.get(R + "id") for sheet in parse_xml(zf.read(WORKBOOK)).iter(S + "sheet")
           if sheet.get("state") in _HIDDEN_STATES}
    parts = set()
    for rel in parse_xml(zf.read(WORKBOOK_RELS)).iter(PR + "Relationship"):
        target = rel.get("Target") or ""
        if rel.get("Id") in ids and target:
            parts.add(target.lstrip("/") if target.startswith("/")
                      else posixpath.normpath(posixpath.join("xl", target)))
    return parts


def _xlsx_colour(el: Any, theme: list[Rgb | None]) -> Rgb | str | None:
    """A SpreadsheetML colour (``color``, ``fgColor``): RGB, unknown, or None (automatic)."""
    if el is None or (el.get("auto") or "").lower() in _TRUE:
        return None
    if (_float(el.get("tint") or "0") or 0.0) != 0.0:
        return _UNKNOWN
    rgb = el.get("rgb")
    if rgb is not None:
        return parse_rgb(rgb[-6:]) or _UNKNOWN  # ARGB; Excel ignores the alpha of these
    index = _int(el.get("theme"))
    if index is not None and 0 <= index < len(theme):
        return theme[index] or _UNKNOWN
    return _UNKNOWN  # indexed, or a theme colour beyond the four base ones


class _CellStyles:
    """Why a cell of each style (``cellXfs`` index) cannot be seen: for numbers, for text."""

    def __init__(self, zf: zipfile.ZipFile, names: set[str]) -> None:
        # index -> (its number format hides numbers, hides text; why its font hides it)
        self.hiding: dict[int, tuple[bool, bool, str | None]] = {}
        if STYLES not in names:
            return
        theme_part = _part_rels(zf, names, WORKBOOK).get("theme")
        theme: list[Rgb | None] = []
        if theme_part and theme_part in names:
            scheme = parse_xml(zf.read(theme_part)).find(f"{A}themeElements/{A}clrScheme")
            for name in ("lt1", "dk1", "lt2", "dk2"):  # theme="0".."3" (light before dark)
                el = None if scheme is None else scheme.find(A + name)
                child = None if el is None or len(el) == 0 else el[0]
                value = None if child is None or len(child) else (
                    child.get("val") if child.tag == A + "srgbClr" else child.get("lastClr"))
                theme.append(parse_rgb(value))
        root = parse_xml(zf.read(STYLES))
        hidden_formats: dict[int, tuple[bool, bool]] = {}
        for fmt in root.iter(S + "numFmt"):
            sections = (fmt.get("formatCode") or "x").split(";")
            if len(sections) >= 2 and not any(part.strip() for part in sections):
                hidden_formats[_int(fmt.get("numFmtId")) or -1] = (True, len(sections) >= 4)
        fonts = []
        for font in root.iterfind(f"{S}fonts/{S}font"):
            size_el = font.find(S + "sz")
            size = _float(size_el.get("val") or "") if size_el is not None else None
            fonts.append((size, _xlsx_colour(font.find(S + "color"), theme)))
        fills: list[Rgb | str] = []
        for fill in root.iterfind(f"{S}fills/{S}fill"):
            pattern = fill.find(S + "patternFill")
            kind = None if pattern is None else (pattern.get("patternType") or "none")
            if kind == "none":
                fills.append(_WHITE)
            elif kind == "solid":
                colour = _xlsx_colour(pattern.find(S + "fgColor"), theme)  # type: ignore[union-attr]
                fills.append(colour if isinstance(colour, tuple) else _UNKNOWN)
            else:
                fills.append(_UNKNOWN)  # a pattern or a gradient
        for index, xf in enumerate(root.iterfind(f"{S}cellXfs/{S}xf")):
            numbers, text = hidden_formats.get(_int(xf.get("numFmtId")) or 0, (False, False))
            font_id, fill_id = _int(xf.get("fontId")) or 0, _int(xf.get("fillId")) or 0
            size, colour = fonts[font_id] if 0 <= font_id < len(fonts) else (None, None)
            fill = fills[fill_id] if 0 <= fill_id < len(fills) else _UNKNOWN
            by_font = None
            if size is not None and size <= MAX_XLSX_POINTS:
                by_font = "tiny"
            elif isinstance(colour, tuple) and isinstance(fill, tuple) and near(colour, fill):
                by_font = "background-colour"
            if numbers or text or by_font:
                self.hiding[index] = (numbers, text, by_font)


def _rich(runs: Any) -> bool:
    """Whether rich-text runs (``r``) set their own colour or size (overriding the cell's)."""
    return any(rpr.find(S + "color") is not None or rpr.find(S + "sz") is not None
               for rpr in runs.iter(S + "rPr"))


def _style_reason(cell: Any, styles: _CellStyles, rich: list[bool], repainted: bool,
                  reformatted: bool) -> str | None:
    """Why a cell's style hides it (its number format, font size or colour), or None.

    ``repainted``: conditional formats or a table may paint the cell (colours not judged);
    ``reformatted``: conditional formats may give it another number format.
    """
    hiding = styles.hiding.get(_int(cell.get("s")) or 0)
    if hiding is None:
        return None
    kind = cell.get("t") or "n"
    if kind in ("b", "e"):
        return None  # booleans and errors are not number-formatted
    is_text = kind in ("s", "str", "inlineStr")
    if (hiding[1] if is_text else hiding[0]) and not reformatted:
        return "format-hidden"
    why = hiding[2]
    if why is None or (why == "background-colour" and repainted):
        return None
    if kind == "s":
        value = cell.find(S + "v")
        index = _int(None if value is None else value.text)
        if index is not None and 0 <= index < len(rich) and rich[index]:
            return None  # its runs set their own colour or size
    elif kind == "inlineStr" and _rich(cell):
        return None
    return why


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
        return sum(visible_chars(t.text) for t in cell.iter(S + "t"))
    value = cell.find(S + "v")
    text = None if value is None else value.text
    if kind == "s":
        index = _int(text)
        return visible_chars(strings[index]) if index is not None and 0 <= index < len(strings) else 0
    return visible_chars(text)


def strip_hidden_cells(root: Any, sheet_hidden: bool, strings: list[str],
                       styles: _CellStyles | None = None,
                       rich: list[bool] | None = None) -> dict[str, int]:
    """Remove the cells of a worksheet (a ``worksheet`` tree) a reader cannot see, in place.

    Returns the characters removed by reason; empty if none.
    """
    removed: collections.Counter[str] = collections.Counter()
    data = root.find(S + "sheetData")
    if data is None:
        return {}
    columns = [] if sheet_hidden else _hidden_columns(root)
    reformatted = any(True for _ in root.iter("{*}conditionalFormatting"))
    repainted = reformatted or root.find(S + "tableParts") is not None
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
            if why is None and styles is not None and styles.hiding:
                why = _style_reason(cell, styles, rich or [], repainted, reformatted)
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
        styles = _CellStyles(zf, names)
        strings: tuple[list[str], list[bool]] | None = None
        for name in sorted(n for n in names if n.startswith("xl/worksheets/")
                           and n.endswith(".xml")):
            data = zf.read(name)
            sheet_hidden = name in hidden_sheets
            if not sheet_hidden and not styles.hiding and not any(
                    marker in data for marker in _HIDING):
                continue  # the usual case: nothing in this sheet can be hidden
            if strings is None:
                strings = _shared_strings(zf, names)
            root = parse_xml(data)
            found = strip_hidden_cells(root, sheet_hidden, strings[0], styles, strings[1])
            if found:
                removed.update(found)
                changed[name] = serialize_part(root)
        if not changed:
            return None, {}
        return rewrite_package(zf, changed), dict(sorted(removed.items()))
