"""Ruled tables in a PDF page, read cell by cell with PDFium.

A PDF has no tables, only characters and drawn lines. Where a page draws a grid (horizontal and
vertical rules that cross, as office suites and reportlab draw table borders), the rows lie
between consecutive horizontal rules and the columns between consecutive vertical ones; each
cell's text is the text inside its box. The table becomes a Markdown table
(:func:`ingest.tables.markdown_table`, first row the header) in place of the flattened lines,
so "Breakfast EUR 10 EUR 12 Lunch EUR 15 ..." keeps its rows and columns.

Many tables draw only horizontal rules: LaTeX's booktabs (a top rule, a rule under the header,
a bottom rule) and report templates (a rule under the header, or under every row). Those are
read too, conservatively (:func:`stacked_tables`), since a false table costs retrieval more
than a missed one: the region between two or more rules of the same left and right extent is
a table only when its text lines (at least two besides the header) part into two or more
columns at blank vertical bands (at least 6 pt and 0.75 em wide) that no character of any line
crosses, every line has text in at least two columns, no column reads as running text (cells
averaging five words or more, or three or more with nearly every line filling the column: a
page's text columns), most lines are not set in a fixed-pitch font (a code listing) and the
first column is not all list markers ("1.", "a)", bullets: a list with hanging indents). The
header is the line just above the top rule where it fits those columns (a rule under the
header), else the lines above the first inner rule (the header rule), else the first line.
Where rules part most rows, a band between two rules is one row (a wrapped cell stays in it).
A single rule, a paragraph, a code listing or two text columns between rules stay text.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.tables import markdown_table

_THIN = 2.5  # a rule is at most this thick (PDF units, 1/72 inch)
_MIN_RULE = 8.0  # ...and at least this long
_SNAP = 2.0  # rules closer than this are one


@dataclass(frozen=True, slots=True)
class RuledTable:
    """A grid's box on its page (PDF units, origin bottom left) and its Markdown text."""

    left: float
    bottom: float
    right: float
    top: float
    markdown: str

    def holds(self, x: float, y: float) -> bool:
        """Whether a point (a line's first character) lies inside the grid."""
        return (self.left - _SNAP <= x <= self.right + _SNAP
                and self.bottom - _SNAP <= y <= self.top + _SNAP)


def ruled_tables(page: pdfium.PdfPage, textpage: pdfium.PdfTextPage) -> list[RuledTable]:
    """The page's tables with at least two rows and two columns: grids, then rule stacks."""
    horizontal, vertical = [], []
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        width, height = right - left, top - bottom
        if height <= _THIN and width >= _MIN_RULE:
            horizontal.append(((bottom + top) / 2, left, right))
        elif width <= _THIN and height >= _MIN_RULE:
            vertical.append(((left + right) / 2, bottom, top))
    tables = []
    for rules_h, rules_v in _grids(horizontal, vertical):
        rows_y = _snap(sorted((y for y, _, _ in rules_h), reverse=True))
        cols_x = _snap(sorted(x for x, _, _ in rules_v))
        if len(rows_y) < 3 or len(cols_x) < 3:
            continue
        rows = [[_cell_text(textpage, x0, y1, x1, y0)
                 for x0, x1 in zip(cols_x, cols_x[1:], strict=False)]
                for y0, y1 in zip(rows_y, rows_y[1:], strict=False)]
        text = markdown_table(rows)
        if text:
            tables.append(RuledTable(cols_x[0], rows_y[-1], cols_x[-1], rows_y[0], text))
    # Horizontal rules that cross no vertical one and lie in no grid: booktabs-style tables.
    loose = [(y, x0, x1) for y, x0, x1 in horizontal
             if not any(x0 - _SNAP <= x <= x1 + _SNAP and y0 - _SNAP <= y <= y1 + _SNAP
                        for x, y0, y1 in vertical)
             and not any(t.holds(x0, y) or t.holds(x1, y) for t in tables)]
    if len(loose) >= 2:
        tables.extend(stacked_tables(textpage, loose))
    return tables


def _grids(horizontal: list[tuple[float, float, float]], vertical: list[tuple[float, float, float]]
           ) -> list[tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]]:
    """Rules grouped into grids: horizontal and vertical rules that cross are one grid."""
    parent = list(range(len(horizontal) + len(vertical)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (y, x0, x1) in enumerate(horizontal):
        for j, (x, y0, y1) in enumerate(vertical):
            if x0 - _SNAP <= x <= x1 + _SNAP and y0 - _SNAP <= y <= y1 + _SNAP:
                parent[find(i)] = find(len(horizontal) + j)
    groups: dict[int, tuple[list[tuple[float, float, float]],
                            list[tuple[float, float, float]]]] = {}
    for i, rule in enumerate(horizontal):
        groups.setdefault(find(i), ([], []))[0].append(rule)
    for j, rule in enumerate(vertical):
        groups.setdefault(find(len(horizontal) + j), ([], []))[1].append(rule)
    return [g for g in groups.values() if g[0] and g[1]]


def _snap(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        if not out or abs(v - out[-1]) > _SNAP:
            out.append(v)
    return out


def _cell_text(textpage: pdfium.PdfTextPage, left: float, top: float, right: float,
               bottom: float) -> str:
    return " ".join(textpage.get_text_bounded(left=left, bottom=bottom, right=right,
                                              top=top).split())


# --- Tables drawn with horizontal rules only (booktabs, report templates) -------------------

_SAME_EXTENT = 3.0  # rules of one table start and end within this of each other
_MAX_STACK = 80  # more same-width rules than this on a page: not read
_MAX_TRIES = 100  # regions tried per stack of rules, at most
_MIN_GAP = 6.0  # a column gap is a band at least this wide that no character crosses...
_GAP_EM = 0.75  # ...and at least this share of the rows' font size (a space is about 0.25 em)
_PROSE_WORDS = 5.0  # a column whose cells average this many words is running text
_FILLED_WORDS = 3.0  # ...as is one averaging this many, nearly every line filling the column
_MONO = ("courier", "mono", "consol", "menlo", "code")
_LIST_MARKER = re.compile(r"^(?:[\u2022\u2023\u25e6\u2043\u2219\u25aa\u25cf*\u2013\u2014-]"
                          r"|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,6})[.)]|\(\d{1,3}\))$")
_BLANK = frozenset([0, *(c for c in range(0x3000 + 1) if chr(c).isspace())])


@dataclass(slots=True)
class _Char:
    index: int
    left: float
    right: float
    bottom: float
    top: float
    center_y: float


_Row = list[_Char]


def stacked_tables(textpage: pdfium.PdfTextPage, rules: list[tuple[float, float, float]]
                   ) -> list[RuledTable]:
    """Tables between horizontal rules of one width (``(y, left, right)``), without vertical ones.

    Conservative: a region between rules of (nearly) the same extent is a table only when its
    text lines (at least two besides the header) split into at least two columns at bands no
    character of any line crosses, every line has text in two columns or more, and no column
    reads as running text or the lines as code (a fixed-pitch font). Anything else stays text.
    """
    stacks: list[list[tuple[float, float, float]]] = []
    for rule in sorted(rules, key=lambda r: (r[1], r[2])):
        for stack in stacks:
            if (abs(stack[0][1] - rule[1]) <= _SAME_EXTENT
                    and abs(stack[0][2] - rule[2]) <= _SAME_EXTENT):
                stack.append(rule)
                break
        else:
            stacks.append([rule])
    chars: list[_Char] | None = None
    text_lines: list[tuple[int, int]] | None = None
    tables: list[RuledTable] = []
    for stack in stacks:
        ys = _snap(sorted((y for y, _, _ in stack), reverse=True))
        if not 2 <= len(ys) <= _MAX_STACK:
            continue
        left, right = min(r[1] for r in stack), max(r[2] for r in stack)
        if text_lines is None:
            text_lines = _text_lines(textpage)
        prose = _prose_bands(textpage, text_lines, ys, right - left)
        if all(prose):  # the usual page between a header rule and a footer rule: no table
            continue
        if chars is None:
            chars = _page_chars(textpage)
        tables.extend(_stack_tables(textpage, chars, ys, left, right, prose))
    return tables


def _text_lines(textpage: pdfium.PdfTextPage) -> list[tuple[int, int]]:
    """PDFium's text lines as character index ranges ``(first, last)``, blank lines left out."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    out = []
    start = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            first = start + body.index(stripped[0])
            # text and character indices differ where PDFium inserts or leaves out characters
            lo, hi = (pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage.raw, i)
                      for i in (first, first + len(stripped) - 1))
            if 0 <= lo <= hi:
                out.append((lo, hi))
        start += len(raw)
    return out


def _prose_bands(textpage: pdfium.PdfTextPage, text_lines: list[tuple[int, int]],
                 ys: list[float], width: float) -> list[bool]:
    """Per band between rules ``ys``: whether it is running text, read cheaply from few characters.

    A band is running text when one of PDFium's lines in it spans a third of the rules' width
    or more without a gap that could part two columns, and the band has more than three lines
    or nothing but such lines (a wrapped header or cell has at most three). This spares reading
    every character's box on pages whose only rules are a running header's and footer's.
    """
    bands = len(ys) - 1
    lines = [0] * bands
    solid = [0] * bands
    decided: set[int] = set()
    unread: list[list[tuple[int, int]]] = [[] for _ in range(bands)]
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    first_box = [ctypes.byref(v) for v in (left, right, bottom, top)]
    last_right = ctypes.c_double()
    last_box = [ctypes.byref(v) for v in (ctypes.c_double(), last_right, ctypes.c_double(),
                                          ctypes.c_double())]
    raw = textpage.raw
    for first, last in text_lines:
        if not (pdfium_c.FPDFText_GetCharBox(raw, first, *first_box)
                and pdfium_c.FPDFText_GetCharBox(raw, last, *last_box)):
            continue
        y = (bottom.value + top.value) / 2
        band = next((k for k in range(bands) if ys[k + 1] < y < ys[k]), None)
        if band is None:
            continue
        lines[band] += 1
        if last_right.value - left.value < width / 3:
            continue
        if solid[band]:  # one such line decides a band of more than three lines
            unread[band].append((first, last))
        elif not _has_gap(_line_chars(textpage, first, last), textpage):
            solid[band] += 1
        if solid[band] and lines[band] > 3:
            decided.add(band)
            if len(decided) == bands:
                break  # every band is running text: the rest of the page need not be read
    for k in range(bands):  # a band of at most three lines: running text if all of them are
        if solid[k] and lines[k] <= 3:
            solid[k] += sum(not _has_gap(_line_chars(textpage, first, last), textpage)
                            for first, last in unread[k])
    return [n > 0 and (lines[k] > 3 or n == lines[k]) for k, n in enumerate(solid)]


def _line_chars(textpage: pdfium.PdfTextPage, first: int, last: int) -> _Row:
    return sorted(_page_chars(textpage, first, last + 1), key=lambda c: c.left)


def _page_chars(textpage: pdfium.PdfTextPage, start: int = 0, stop: int | None = None
                ) -> list[_Char]:
    """The characters (spaces left out) from ``start`` to ``stop`` and their boxes."""
    stop = textpage.count_chars() if stop is None else stop
    out = []
    box = [ctypes.c_double() for _ in range(4)]
    refs = [ctypes.byref(b) for b in box]
    raw = textpage.raw
    get_box, get_code = pdfium_c.FPDFText_GetCharBox, pdfium_c.FPDFText_GetUnicode
    for i in range(start, stop):
        code = get_code(raw, i)
        if code in _BLANK or not get_box(raw, i, *refs):
            continue
        left, right, bottom, top = box[0].value, box[1].value, box[2].value, box[3].value
        if right > left or top > bottom:
            out.append(_Char(i, left, right, bottom, top, (bottom + top) / 2))
    return out


def _lines(chars: list[_Char]) -> list[_Row]:
    """Characters grouped into text lines (overlapping vertically), top to bottom, left to right."""
    rows: list[tuple[float, _Row]] = []  # (the line's bottom so far, its characters)
    for ch in sorted(chars, key=lambda c: -c.top):
        if rows and ch.top > rows[-1][0]:
            bottom, row = rows[-1]
            row.append(ch)
            rows[-1] = (min(bottom, ch.bottom), row)
        else:
            rows.append((ch.bottom, [ch]))
    return [sorted(row, key=lambda c: c.left) for _, row in rows]


def _stack_tables(textpage: pdfium.PdfTextPage, chars: list[_Char], ys: list[float],
                  left: float, right: float, prose: list[bool]) -> list[RuledTable]:
    """The tables in one stack of same-width rules ``ys`` (top to bottom)."""
    inside = [c for c in chars if c.right > left - _SNAP and c.left < right + _SNAP]
    bands: list[list[_Row]] = []
    hopeless: list[bool] = []  # a band no table can include (text spills out, or only prose)
    for k, (top, bottom) in enumerate(zip(ys, ys[1:], strict=False)):
        if prose[k]:
            bands.append([])
            hopeless.append(True)
            continue
        band = [c for c in inside if bottom < c.center_y < top]
        spills = any(c.left < left - _SNAP or c.right > right + _SNAP for c in band)
        lines = _lines(band)
        hopeless.append(spills or (bool(lines) and not any(_has_gap(ln, textpage)
                                                           for ln in lines)))
        bands.append(lines)
    tables: list[RuledTable] = []
    taken = -2  # the last band read into a table
    budget = _MAX_TRIES
    i = 0
    while i < len(bands):
        if hopeless[i]:
            i += 1
            continue
        end = i
        while end + 1 < len(bands) and not hopeless[end + 1]:
            end += 1
        # the line above the region's top rule may be its header, unless a table just took it
        above = _line_above(inside, ys[i], left, right) if taken != i - 1 else None
        for j in range(end, i - 1, -1):  # the largest region starting at band i
            budget -= 1
            if budget < 0:
                return tables  # a page of many rules and gapped lines, none a table: stop here
            table = _region_table(textpage, bands[i:j + 1], above, ys[i], ys[j + 1], left, right)
            if table is not None:
                tables.append(table)
                taken = i = j
                break
        i += 1
    return tables


def _line_above(chars: list[_Char], y: float, left: float, right: float) -> _Row | None:
    """The text line just above the rule at ``y`` (``chars``: those over the rule's extent)."""
    near = [c for c in chars if c.center_y > y]
    if not near:
        return None
    line = _lines(near)[-1]
    height = max(c.top for c in line) - min(c.bottom for c in line)
    if min(c.bottom for c in line) - y > max(height, 4.0):
        return None  # not right above the rule
    if any(c.left < left - _SNAP or c.right > right + _SNAP for c in line):
        return None  # a caption or a paragraph wider than the table
    return line


def _region_table(textpage: pdfium.PdfTextPage, bands: list[list[_Row]], above: _Row | None,
                  top: float, bottom: float, left: float, right: float) -> RuledTable | None:
    """The region between rules ``top`` and ``bottom`` (its bands' lines) as a table, or None."""
    filled = [b for b in bands if b]
    if not filled:
        return None
    layouts: list[tuple[_Row, list[_Row], bool]] = []  # (header, body rows, header above rule)
    if above is not None:
        layouts.append((above, _body_rows(filled), True))
    if len(filled) >= 2 and len(filled[0]) <= 3:  # a header band, then the header rule
        layouts.append(([c for ln in filled[0] for c in ln], _body_rows(filled[1:]), False))
    lines = [ln for b in filled for ln in b]
    layouts.append((lines[0], lines[1:], False))
    for header, body, header_above in layouts:
        if len(body) < 2:
            continue
        rows = [sorted(header, key=lambda c: c.left)] + body
        cells = _cells(textpage, rows, left, right)
        if cells is None:
            continue
        text = markdown_table(cells)
        if not text:
            continue
        box_top = (max(c.bottom for c in header) + 0.5 - _SNAP if header_above
                   else top - _SNAP - 0.01)
        return RuledTable(left, bottom + _SNAP + 0.01, right, box_top, text)
    return None


def _body_rows(bands: list[list[_Row]]) -> list[_Row]:
    """Rows of the body bands: one a band where rules part most rows, else one a line."""
    if len(bands) >= 2 and sum(len(b) == 1 for b in bands) * 2 > len(bands):
        return [sorted((c for ln in b for c in ln), key=lambda c: c.left) for b in bands]
    return [ln for b in bands for ln in b]


def _font_size(textpage: pdfium.PdfTextPage, rows: list[_Row]) -> float:
    sizes = sorted(float(pdfium_c.FPDFText_GetFontSize(textpage.raw, row[0].index))
                   for row in rows if row)
    return sizes[len(sizes) // 2] if sizes else 10.0


def _min_gap(size: float) -> float:
    return max(_MIN_GAP, _GAP_EM * size)


def _has_gap(line: _Row, textpage: pdfium.PdfTextPage) -> bool:
    """Whether a line has a blank band wide enough to part two columns."""
    gap = _min_gap(_font_size(textpage, [line]))
    edge = line[0].right
    for ch in line[1:]:
        if ch.left - edge >= gap:
            return True
        edge = max(edge, ch.right)
    return False


def _cells(textpage: pdfium.PdfTextPage, rows: list[_Row], left: float, right: float
           ) -> list[list[str]] | None:
    """Rows' cells at the column gaps every row respects, or None if this is not a table."""
    size = _font_size(textpage, rows)
    gap = _min_gap(size)
    spans = sorted((c.left, c.right) for row in rows for c in row)
    cuts: list[float] = []  # the middle of each blank band
    edge = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - edge >= gap:
            cuts.append((edge + lo) / 2)
        edge = max(edge, hi)
    if not cuts:
        return None
    for row in rows:  # every row has text in at least two columns
        if len({bisect.bisect(cuts, (c.left + c.right) / 2) for c in row}) < 2:
            return None
    if _monospaced(textpage, rows):
        return None  # a code listing with aligned comments, not a table
    xs = [left - _SNAP, *cuts, right + _SNAP]
    tops = [max(c.top for c in row) for row in rows]
    bottoms = [min(c.bottom for c in row) for row in rows]
    ys = ([tops[0] + _SNAP]
          + [(b + t) / 2 for b, t in zip(bottoms, tops[1:], strict=False)]
          + [bottoms[-1] - _SNAP])
    cells = [[_cell_text(textpage, x0, y0, x1, y1) for x0, x1 in zip(xs, xs[1:], strict=False)]
             for y0, y1 in zip(ys, ys[1:], strict=False)]
    if all(_LIST_MARKER.match(row[0]) for row in cells):
        return None  # a numbered or bulleted list with hanging indents
    for col in range(len(xs) - 1):  # a column of running text: a page's text columns
        texts = [row[col] for row in cells[1:] if row[col]]
        if not texts:
            continue
        words = sum(len(t.split()) for t in texts) / len(texts)
        widths = [max(c.right for c in row if xs[col] < c.left < xs[col + 1])
                  - min(c.left for c in row if xs[col] < c.left < xs[col + 1])
                  for row in rows[1:] if any(xs[col] < c.left < xs[col + 1] for c in row)]
        full = sum(w >= 0.85 * max(widths) for w in widths) >= 0.75 * len(widths)
        if words >= _PROSE_WORDS or (words >= _FILLED_WORDS and full):
            return None
    return cells


def _monospaced(textpage: pdfium.PdfTextPage, rows: list[_Row]) -> bool:
    """Whether most rows are set in a fixed-pitch font (as code listings are)."""
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    fixed = 0
    for row in rows:
        pdfium_c.FPDFText_GetFontInfo(textpage.raw, row[0].index, name, len(name),
                                      ctypes.byref(flags))
        lowered = name.value.decode("latin-1").lower()
        fixed += bool(flags.value & 1) or any(word in lowered for word in _MONO)
    return fixed * 2 > len(rows)
