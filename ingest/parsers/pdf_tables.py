"""Tables in a PDF page, ruled or aligned by whitespace alone, read cell by cell with PDFium.

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
A paragraph, a code listing or two text columns between rules stay text. Two columns that no
line has text in both of are one (a header set left over amounts set right).

Tables drawn with no rules at all, columns aligned by whitespace (reports, spreadsheets printed
to PDF), are read most conservatively of all (:func:`borderless_tables`). A table is a run of
three or more consecutive text lines (a header and two rows or more: the first line is the
header) of one font size range (within 1.2 times), each the next line down with no blank
taller than 1.5 font sizes between, every line parting at wide gaps (the column gap's width)
into two or more cells of fewer than five words, and the run must pass the column test above:
blank bands no character of any line crosses, text in two columns on every line, no column of
running text, most lines not fixed-pitch, the first column not all list markers. It is still
text where any cell has five words or more (an option list's descriptions, a glossary), where
half the lines space all their words alike (justified text whose stretched spaces happen to
line up in a river), where a cell has dot leaders or a page number ends every line, in order
(a table of contents), and where it has two columns, unless a bold header heads a body that
is not bold: two columns without one are terms and their meanings (a manual's option letters
or escape sequences), a definition list. The run ends at a line that does not fit (a
paragraph, a heading, a larger gap, a larger font, a note whose text bridges a column gap the
lines above kept); lines inside tables read from rules are left out. Two text columns, option
lists, code, bulleted lists with hanging indents, justified paragraphs and tables of contents
stay text, and so does a borderless table's row whose cell wraps onto a second line (that line
has text in one column only: the table ends above it). A table drawn column after column
(PDFium then reads each cell as a line of its own) is not found. Lines are first sifted
cheaply from PDFium's text (the characters either side of each space), so pages of running
text cost little.
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
    tables.extend(borderless_tables(textpage, tables))
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
_MONO = ("courier", "mono", "consol", "menlo", "code", "cmtt", "sftt", "typewriter")
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
    text_lines: list[tuple[int, int, str]] | None = None
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


def _text_lines(textpage: pdfium.PdfTextPage) -> list[tuple[int, int, str]]:
    """PDFium's text lines ``(first, last, text)``: character index range and text, blank left out."""
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
                out.append((lo, hi, stripped))
        start += len(raw)
    return out


def _prose_bands(textpage: pdfium.PdfTextPage, text_lines: list[tuple[int, int, str]],
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
    for first, last, _ in text_lines:
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


def _cuts(rows: list[_Row], gap: float) -> list[float]:
    """The middles of the blank bands at least ``gap`` wide that no character of ``rows`` crosses."""
    spans = sorted((c.left, c.right) for row in rows for c in row)
    cuts: list[float] = []
    edge = spans[0][1]
    for lo, hi in spans[1:]:
        if lo - edge >= gap:
            cuts.append((edge + lo) / 2)
        edge = max(edge, hi)
    return cuts


def _joined(rows: list[_Row], cuts: list[float]) -> list[float]:
    """``cuts`` less those between two columns that no row has text in both of.

    Such columns are one whose rows are aligned differently: a header set left over numbers
    set right, with a blank between them that no row crosses.
    """
    columns = [{bisect.bisect(cuts, (c.left + c.right) / 2) for c in row} for row in rows]
    kept: list[float] = []
    filled = {i for i, cols in enumerate(columns) if 0 in cols}  # rows in the column so far
    for k, cut in enumerate(cuts, start=1):
        beyond = {i for i, cols in enumerate(columns) if k in cols}
        if filled & beyond:
            kept.append(cut)
            filled = beyond
        else:
            filled |= beyond
    return kept


def _cells(textpage: pdfium.PdfTextPage, rows: list[_Row], left: float, right: float
           ) -> list[list[str]] | None:
    """Rows' cells at the column gaps every row respects, or None if this is not a table."""
    cuts = _joined(rows, _cuts(rows, _min_gap(_font_size(textpage, rows))))
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
    fixed = 0
    for row in rows:
        lowered, flags = _font(textpage, row[0].index)
        fixed += bool(flags & 1) or any(word in lowered for word in _MONO)
    return fixed * 2 > len(rows)


def _font(textpage: pdfium.PdfTextPage, index: int) -> tuple[str, int]:
    """A character's font name (lower case) and flags."""
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, name, len(name), ctypes.byref(flags))
    return name.value.decode("latin-1").lower(), flags.value


# --- Tables drawn without any rules (columns aligned by whitespace alone) -------------------

_MIN_ROWS = 3  # a header and at least two body rows
_RUN_GAP = 1.5  # a blank taller than this many font sizes between two lines ends a run
_OVERLAP = 0.25  # ...and a line reaching this many font sizes above the last one's bottom
_SIZE_RANGE = 1.2  # the lines of one table differ in font size by at most this ratio
_CELL_WORDS = 5  # a cell of this many words is running text (a description, a sentence)
_MAX_CELL_TRIES = 30  # runs tried as tables per page, at most
_SHRINKS = 3  # ...and at most this many shorter runs from one first line
_LEADERS = re.compile(r"(?:\.\s?){4,}")  # "Introduction . . . . . 12": a table of contents
_PAGE_NUMBER = re.compile(r"^\d{1,4}$")
_EVEN = 0.15  # word spaces of a line within this share of the font size of each other: alike
_SPACES = re.compile(r"(?<=\S)\s+(?=\S)")  # between two words of a line
_BOLD = ("bold", "black", "heavy", "semibold", "demi")  # as ingest.parsers.pdfium reads headings


def borderless_tables(textpage: pdfium.PdfTextPage, taken: list[RuledTable]
                      ) -> list[RuledTable]:
    """Tables drawn without rules: text lines whose columns only whitespace parts.

    Conservative: a run of at least three consecutive lines (a header, two rows or more) of one
    font size range, each below the last with no blank taller than 1.5 font sizes between them,
    every line parted at blank bands into cells of fewer than five words, is a table when
    :func:`_cells` reads it as one (columns at bands no character of any line crosses, text in
    two columns or more on every line, no running text, no code, not a list), no cell has five
    words or more, it is not a table of contents (dot leaders, or page numbers ending every
    line) and it has three columns or more, or two under a bold header over a body that is not
    bold (two columns without one are a definition list: a term and its meaning). A line after
    the first three that bridges a column gap the lines above kept ends the run. Lines that
    start inside ``taken`` (tables read from rules) are left out.
    """
    runs: list[list[_Row]] = []
    run: list[_Row] = []
    low = high = bottom = 0.0
    boxes = _Boxes()
    for first, last, text in _text_lines(textpage):
        size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first)) if " " in text else 0.0
        if not size or not _cell_like(textpage, first, last, text, size, taken, boxes):
            runs.append(run)
            run = []
            continue
        line = _line_chars(textpage, first, last)
        if not line:
            continue
        top = max(c.top for c in line)
        # the next line down (glyphs may overlap a little), at most a blank line's gap below
        if run and not (-_OVERLAP * size <= bottom - top <= _RUN_GAP * max(size, high)
                        and max(high, size) <= _SIZE_RANGE * min(low, size)):
            runs.append(run)
            run = []
        if not run:
            low = high = size
        run.append(line)
        low, high = min(low, size), max(high, size)
        bottom = min(c.bottom for c in line)
    runs.append(run)
    tables: list[RuledTable] = []
    budget = _MAX_CELL_TRIES
    for run in runs:
        i = 0
        while i + _MIN_ROWS <= len(run):
            for end in _candidate_ends(textpage, run, i):
                budget -= 1
                if budget < 0:
                    return tables
                table = _borderless_table(textpage, run[i:end])
                if table is not None:
                    tables.append(table)
                    i = end - 1
                    break
            i += 1
    return tables


class _Boxes:
    """Reusable outputs for reading two characters' boxes: left of one, right of the other."""

    def __init__(self) -> None:
        self.left, self.bottom, self.right = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
        ignored = ctypes.c_double()
        self.after = [ctypes.byref(v) for v in (self.left, ignored, self.bottom, ignored)]
        self.before = [ctypes.byref(v) for v in (ignored, self.right, ignored, ignored)]


def _cell_like(textpage: pdfium.PdfTextPage, first: int, last: int, text: str, size: float,
               taken: list[RuledTable], boxes: _Boxes) -> bool:
    """Whether PDFium's line ``text`` parts into two cells or more, each of fewer than five words.

    The line is characters ``first`` to ``last``; cells part at word gaps of a column gap's
    width. Cheap, since most lines of most pages are running text: only the characters around each
    space are read, and a line is given up at its fifth word without a wide gap between.
    """
    if len(text) != last - first + 1 or not _SPACES.search(text):
        return False  # one word, or text and character indices differ (rare: left out)
    raw, get_box = textpage.raw, pdfium_c.FPDFText_GetCharBox
    if taken and get_box(raw, first, *boxes.after) and any(
            t.holds(boxes.left.value, boxes.bottom.value) for t in taken):
        return False
    gap = _min_gap(size)
    cells, words = 1, 1
    for space in _SPACES.finditer(text):
        if (get_box(raw, first + space.start() - 1, *boxes.before)
                and get_box(raw, first + space.end(), *boxes.after)
                and boxes.left.value - boxes.right.value >= gap):
            cells, words = cells + 1, 1
        else:
            words += 1
            if words >= _CELL_WORDS:
                return False
    return cells > 1


def _candidate_ends(textpage: pdfium.PdfTextPage, run: list[_Row], start: int) -> list[int]:
    """Ends of the runs from line ``start`` worth reading as a table, longest first.

    The longest run whose lines keep a common column gap and text in two columns on every line
    (what :func:`_cells` asks first, here cheaply), and in which no line after the first three
    bridges a gap that those before it kept (a note or a caption across the columns ends the
    table), then a few shorter ones.
    """
    gap = _min_gap(_font_size(textpage, run[start:start + _MIN_ROWS]))
    extents = [(row[0].left, max(c.right for c in row)) for row in run]
    occupied: list[list[float]] = []  # the columns so far: spans no blank band parts
    end = start
    for k in range(start, len(run)):
        columns = len(occupied)
        occupied = _occupy(occupied, run[k], gap)
        if k >= start + _MIN_ROWS and len(occupied) < columns:
            break
        cuts = [(a[1] + b[0]) / 2 for a, b in zip(occupied, occupied[1:], strict=False)]
        # a later line can merge two columns, leaving an earlier line in one: check them all
        if not cuts or any(bisect.bisect(cuts, lo) == bisect.bisect(cuts, hi)
                           for lo, hi in extents[start:k + 1]):
            break
        end = k + 1
    return list(range(end, max(start + _MIN_ROWS, end - _SHRINKS) - 1, -1))


def _occupy(occupied: list[list[float]], row: _Row, gap: float) -> list[list[float]]:
    """``occupied`` (spans left to right) with a line's characters added, those within ``gap`` joined."""
    out: list[list[float]] = []
    for lo, hi in sorted([*((a, b) for a, b in occupied), *((c.left, c.right) for c in row)]):
        if out and lo - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _borderless_table(textpage: pdfium.PdfTextPage, rows: list[_Row]) -> RuledTable | None:
    """Lines (the first the header) as a table without rules, or None."""
    left = min(c.left for row in rows for c in row)
    right = max(c.right for row in rows for c in row)
    cells = _cells(textpage, rows, left, right)
    if cells is None:
        return None
    if any(len(cell.split()) >= _CELL_WORDS for row in cells for cell in row):
        return None  # a description or a sentence: an option list, a glossary, prose
    if _justified(rows, cells, _font_size(textpage, rows)):
        return None  # justified lines whose stretched word spaces happen to line up (a river)
    if any(_LEADERS.search(cell) for row in cells for cell in row):
        return None  # a table of contents or an index
    last = [next((c for c in reversed(row) if c), "") for row in cells]
    if all(_PAGE_NUMBER.match(c) for c in last):
        pages = [int(c) for c in last]
        if pages == sorted(pages):
            return None  # a table of contents without leaders: a page number ends every line
    if _definition_list(textpage, rows, cells):
        return None
    text = markdown_table(cells)
    if not text:
        return None
    # ingest.parsers.pdfium places a line by its first character's bottom: the box spans those
    return RuledTable(left, min(c.bottom for c in rows[-1]) - 0.5 + _SNAP, right,
                      max(c.bottom for c in rows[0]) + 0.5 - _SNAP, text)


def _justified(rows: list[_Row], cells: list[list[str]], size: float) -> bool:
    """Whether half the lines or more are words all spaced alike, as justified text sets them.

    A word space is where PDFium's character numbers skip one (a space); a table's row spaces
    the words within a cell narrowly and the cells by their columns' widths, unlike each other.
    Rows mostly of digits (amounts of one width in columns of one width) are not words.
    """
    even = 0
    for row, texts in zip(rows, cells, strict=True):
        gaps = [b.left - a.right for a, b in zip(row, row[1:], strict=False)
                if b.index - a.index != 1]
        letters = "".join(texts).replace(" ", "")
        even += (len(gaps) >= 2 and max(gaps) - min(gaps) <= _EVEN * size
                 and sum(ch.isalpha() for ch in letters) * 2 > len(letters))
    return even * 2 >= len(rows)


def _definition_list(textpage: pdfium.PdfTextPage, rows: list[_Row], cells: list[list[str]]
                     ) -> bool:
    """Whether two columns are terms and their meanings rather than a table.

    An option list or a manual's escape sequences part like two columns; they are taken for a
    table only under a bold header over a body that is not bold.
    """
    return len(cells[0]) == 2 and not (_bold_share(textpage, rows[:1]) >= 0.9
                                       and _bold_share(textpage, rows[1:]) < 0.5)


def _bold_share(textpage: pdfium.PdfTextPage, rows: list[_Row]) -> float:
    """The share of the lines' characters set in a bold face."""
    chars = [c for row in rows for c in row]
    bold = sum(any(word in _font(textpage, c.index)[0] for word in _BOLD) for c in chars)
    return bold / len(chars) if chars else 0.0
