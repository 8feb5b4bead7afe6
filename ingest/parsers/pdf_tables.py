"""Ruled tables in a PDF page, read cell by cell with PDFium.

A PDF has no tables, only characters and drawn lines. Where a page draws a grid (horizontal and
vertical rules that cross, as office suites and reportlab draw table borders), the rows lie
between consecutive horizontal rules and the columns between consecutive vertical ones; each
cell's text is the text inside its box. The table becomes a Markdown table
(:func:`ingest.tables.markdown_table`, first row the header) in place of the flattened lines,
so "Breakfast EUR 10 EUR 12 Lunch EUR 15 ..." keeps its rows and columns. Tables without
vertical rules (only horizontal lines) are left as text: without columns there is no grid to
trust.
"""

from __future__ import annotations

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
    """The page's ruled tables with at least two rows and two columns."""
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
