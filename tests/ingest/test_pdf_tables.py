"""Tables drawn with horizontal rules only (booktabs, report templates) or none, read from PDFs.

The PDFs are drawn here with reportlab: tables as LaTeX's booktabs and office report templates
set them, tables aligned by whitespace alone, and the layouts that must stay text (a paragraph,
two text columns, a code listing, an option list, a bulleted list, a table of contents). Each
negative between rules is compared with the same page drawn without its rules; each negative
without rules first checks that its lines do part at a common blank band, so that what keeps
it text is the check the test names.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.parsers import pdf_tables
from ingest.parsers.pdfium import parse_pdf
from ingest.types import Block

LEFT, RIGHT = 72, 420
COLS = (80, 200, 310)  # where each column's text starts
HEADER = ("Meal", "Domestic trips", "International trips")
ROWS = [("Breakfast", "EUR 10", "EUR 12"), ("Lunch", "EUR 15", "EUR 18"),
        ("Dinner", "EUR 20", "EUR 30")]
MARKDOWN = ("| Meal | Domestic trips | International trips |\n|---|---|---|\n"
            "| Breakfast | EUR 10 | EUR 12 |\n| Lunch | EUR 15 | EUR 18 |\n"
            "| Dinner | EUR 20 | EUR 30 |")
PROSE = ("Travellers claim the daily allowance for every day away from home, and the amounts "
         "below apply whatever the meal actually cost. Receipts are not needed for meals, but "
         "hotel and transport receipts are, and they must be attached to the claim within thirty "
         "days of the end of the trip so that the finance team can pay them in the next run.")


def _pdf(path: Path, draw: Callable[[canvas.Canvas], None]) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 10)
    c.drawString(LEFT, 780, "The allowances are in the table below.")
    draw(c)
    c.setFont("Helvetica", 10)
    c.drawString(LEFT, 300, "Claims are paid within a month.")
    c.save()
    return path


def _row(c: canvas.Canvas, y: float, cells: tuple[str, ...], font: str = "Helvetica") -> None:
    c.setFont(font, 10)
    for x, text in zip(COLS, cells, strict=True):
        c.drawString(x, y, text)


def _rule(c: canvas.Canvas, y: float, width: float = 0.6) -> None:
    c.setLineWidth(width)
    c.line(LEFT, y, RIGHT, y)


def _tables(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks if b.kind == "table"]


def _prose(blocks: list[Block]) -> str:
    return " ".join(b.text for b in blocks if b.kind != "table")


def test_booktabs_table_top_header_and_bottom_rules(tmp_path: Path) -> None:
    """A top rule, a rule under the header, a bottom rule, no vertical lines: one table."""
    def draw(c: canvas.Canvas) -> None:
        _rule(c, 760, 0.8)
        _row(c, 746, HEADER, "Helvetica-Bold")
        _rule(c, 740, 0.5)
        for k, row in enumerate(ROWS):
            _row(c, 726 - 14 * k, row)
        _rule(c, 690, 0.8)

    blocks = parse_pdf(_pdf(tmp_path / "booktabs.pdf", draw)).blocks
    assert _tables(blocks) == [MARKDOWN]
    assert [b.kind for b in blocks] == ["text", "table", "text"]  # in place, in reading order
    prose = _prose(blocks)
    assert "table below." in prose and "paid within a month." in prose
    assert "Breakfast" not in prose and "Domestic" not in prose  # not also flattened


def test_header_rule_and_closing_rule(tmp_path: Path) -> None:
    """A header above a rule, rows, the next rule below them: the header is the line above."""
    def draw(c: canvas.Canvas) -> None:
        _row(c, 746, HEADER, "Helvetica-Bold")
        _rule(c, 740)
        for k, row in enumerate(ROWS):
            _row(c, 726 - 14 * k, row)
        _rule(c, 690)

    blocks = parse_pdf(_pdf(tmp_path / "header-rule.pdf", draw)).blocks
    assert _tables(blocks) == [MARKDOWN]
    assert "Breakfast" not in _prose(blocks) and "table below." in _prose(blocks)


def test_rules_between_every_row_and_a_wrapped_cell(tmp_path: Path) -> None:
    """A rule under every row; a cell wrapped onto two lines stays one row."""
    def draw(c: canvas.Canvas) -> None:
        y = 760.0
        _rule(c, y)
        _row(c, y - 14, HEADER, "Helvetica-Bold")
        y -= 20
        _rule(c, y)
        for row in [*ROWS, ("Client dinner", "at cost", "at cost")]:
            _row(c, y - 14, row)
            if row[0] == "Dinner":  # a second line in the last column
                c.drawString(COLS[2], y - 26, "(35 in capitals)")
                y -= 12
            y -= 20
            _rule(c, y)

    blocks = parse_pdf(_pdf(tmp_path / "every-row.pdf", draw)).blocks
    [table] = _tables(blocks)
    lines = table.splitlines()
    assert lines[0] == "| Meal | Domestic trips | International trips |"
    assert lines[2:] == ["| Breakfast | EUR 10 | EUR 12 |", "| Lunch | EUR 15 | EUR 18 |",
                         "| Dinner | EUR 20 | EUR 30 (35 in capitals) |",
                         "| Client dinner | at cost | at cost |"]
    assert "Lunch" not in _prose(blocks)


def test_two_tables_on_one_stack_of_rules_and_a_paragraph_between(tmp_path: Path) -> None:
    """Rules of one width above and below a paragraph that lies between two tables."""
    def draw(c: canvas.Canvas) -> None:
        for top in (760, 600):
            _rule(c, top)
            _row(c, top - 14, HEADER, "Helvetica-Bold")
            _rule(c, top - 20)
            for k, row in enumerate(ROWS):
                _row(c, top - 34 - 14 * k, row)
            _rule(c, top - 70)
        c.setFont("Helvetica", 10)
        c.drawString(LEFT + 2, 672, "Between the tables, a sentence that runs across the")
        c.drawString(LEFT + 2, 660, "full width of both of them and is plain text.")

    blocks = parse_pdf(_pdf(tmp_path / "two.pdf", draw)).blocks
    assert _tables(blocks) == [MARKDOWN, MARKDOWN]
    assert "a sentence that runs across the full width" in _prose(blocks)


def _unchanged(tmp_path: Path, draw: Callable[[canvas.Canvas, bool], None]) -> list[Block]:
    """The page's blocks, asserted equal to those of the same page drawn without rules."""
    ruled = parse_pdf(_pdf(tmp_path / "ruled.pdf", lambda c: draw(c, True))).blocks
    bare = parse_pdf(_pdf(tmp_path / "bare.pdf", lambda c: draw(c, False))).blocks
    assert _tables(ruled) == []
    assert ruled == bare
    return ruled


def test_a_paragraph_between_two_rules_stays_text(tmp_path: Path) -> None:
    def draw(c: canvas.Canvas, rules: bool) -> None:
        if rules:
            _rule(c, 760)
            _rule(c, 640)
        c.setFont("Helvetica", 10)
        words, line, y = PROSE.split(), "", 746.0
        for word in words:
            if c.stringWidth(f"{line} {word}", "Helvetica", 10) > RIGHT - LEFT - 8:
                c.drawString(LEFT + 4, y, line)
                line, y = word, y - 13
            else:
                line = f"{line} {word}".strip()
        c.drawString(LEFT + 4, y, line)

    blocks = _unchanged(tmp_path, draw)
    assert "whatever the meal actually cost" in _prose(blocks)


def test_two_text_columns_between_rules_stay_text(tmp_path: Path) -> None:
    """A page set in two columns under a title rule and above a footer rule is not a table."""
    def draw(c: canvas.Canvas, rules: bool) -> None:
        if rules:
            c.line(LEFT, 770, 523, 770)
            c.line(LEFT, 320, 523, 320)
        c.setFont("Helvetica", 10)
        words = " ".join([PROSE] * 16).split()  # more than both columns hold
        for x in (LEFT, 306):
            line, y = "", 755.0
            while words and y > 340:
                word = words[0]
                if c.stringWidth(f"{line} {word}", "Helvetica", 10) > 210:
                    c.drawString(x, y, line)
                    line, y = "", y - 13
                else:
                    line = f"{line} {word}".strip()
                    words.pop(0)
            c.drawString(x, y, line)

    _unchanged(tmp_path, draw)


def test_a_code_listing_between_rules_stays_text(tmp_path: Path) -> None:
    """Code set in Courier between two rules, comments aligned in a column: not a table."""
    code = ["export PATH=/usr/local/bin:$PATH    # search here first",
            "alias ll='ls -l'                    # long listing",
            "setopt autocd                       # cd by typing a directory",
            "bindkey -e                          # emacs key bindings"]

    def draw(c: canvas.Canvas, rules: bool) -> None:
        if rules:
            _rule(c, 760)
            _rule(c, 690)
        c.setFont("Courier", 9)
        for k, line in enumerate(code):
            c.drawString(LEFT + 4, 746 - 13 * k, line)

    blocks = _unchanged(tmp_path, draw)
    assert "alias ll='ls -l'" in _prose(blocks)


def test_a_single_rule_under_a_header_reads_as_a_table_without_rules(tmp_path: Path) -> None:
    """One rule alone does not say where a table ends, but the columns do, rule or none."""
    def draw(c: canvas.Canvas, rules: bool) -> None:
        _row(c, 746, HEADER, "Helvetica-Bold")
        if rules:
            _rule(c, 740)
        for k, row in enumerate(ROWS):
            _row(c, 726 - 14 * k, row)

    for rules in (True, False):
        path = _pdf(tmp_path / f"single-{rules}.pdf", lambda c, rules=rules: draw(c, rules))
        blocks = parse_pdf(path).blocks
        assert _tables(blocks) == [MARKDOWN]
        assert [b.kind for b in blocks] == ["text", "table", "text"]


def test_reportlab_table_styles_in_a_two_column_page(tmp_path: Path) -> None:
    """Report templates as reportlab's platypus sets them, in the left of two text columns.

    The rules are a line under every row (no rule above the header); the right column's text
    beside the table keeps every word.
    """
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table
    from reportlab.platypus.flowables import HRFlowable

    styles = getSampleStyleSheet()
    path = tmp_path / "report.pdf"
    doc = BaseDocTemplate(str(path), pagesize=A4)
    width = (doc.width - 12) / 2
    doc.addPageTemplates([PageTemplate(frames=[
        Frame(doc.leftMargin, doc.bottomMargin, width, doc.height),
        Frame(doc.leftMargin + width + 12, doc.bottomMargin, width, doc.height)])])
    table = Table([["Setting", "Default", "Meaning"], ["timeout", "30 s", "how long to wait"],
                   ["retries", "3", "attempts before failing"], ["log_level", "info", "verbosity"]])
    table.setStyle([("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.grey)])
    story = [Paragraph("The settings below tune the client.", styles["BodyText"]), table,
             HRFlowable(width="100%"), Paragraph(PROSE, styles["BodyText"]),
             HRFlowable(width="100%"), Paragraph(PROSE * 12, styles["BodyText"])]
    doc.build(story)

    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == [
        "| Setting | Default | Meaning |\n|---|---|---|\n| timeout | 30 s | how long to wait |\n"
        "| retries | 3 | attempts before failing |\n| log_level | info | verbosity |"]
    prose = " ".join(_prose(blocks).split())
    assert prose.count("whatever the meal actually cost") == 13  # every copy, both columns
    assert "The settings below tune the client." in prose and "timeout" not in prose


def test_a_numbered_list_between_rules_stays_text(tmp_path: Path) -> None:
    """Numbers in a hanging indent part like a column, but a list is not a table."""
    steps = ["Install the package", "Copy the settings file", "Restart the service",
             "Check the log"]

    def draw(c: canvas.Canvas, rules: bool) -> None:
        if rules:
            _rule(c, 760)
            _rule(c, 680)
        c.setFont("Helvetica", 10)
        for k, step in enumerate(steps):
            c.drawString(LEFT + 4, 746 - 14 * k, f"{k + 1}.")
            c.drawString(LEFT + 28, 746 - 14 * k, step)

    blocks = _unchanged(tmp_path, draw)
    assert "Restart the service" in _prose(blocks)


# --- Tables drawn without any rules ---------------------------------------------------------

RATES_COLS = (72, 190, 280, 370)
RATES = [("City", "Hotel per night", "Meals per day", "Local transport"),
         ("Berlin", "EUR 140", "EUR 42", "EUR 12"), ("Lisbon", "EUR 110", "EUR 36", "EUR 8"),
         ("Oslo", "NOK 1900", "NOK 560", "NOK 150"), ("Zurich", "CHF 210", "CHF 75", "CHF 18")]
RATES_MARKDOWN = ("| City | Hotel per night | Meals per day | Local transport |\n|---|---|---|---|\n"
                  "| Berlin | EUR 140 | EUR 42 | EUR 12 |\n| Lisbon | EUR 110 | EUR 36 | EUR 8 |\n"
                  "| Oslo | NOK 1900 | NOK 560 | NOK 150 |\n| Zurich | CHF 210 | CHF 75 | CHF 18 |")


def _draw_rates(c: canvas.Canvas, top: float) -> float:
    """The rates table without rules, header in bold; returns the last row's baseline."""
    y = top
    for k, row in enumerate(RATES):
        c.setFont("Helvetica-Bold" if k == 0 else "Helvetica", 10)
        for x, text in zip(RATES_COLS, row, strict=True):
            c.drawString(x, y, text)
        y -= 14
    return y + 14


def _columns(path: Path, top: float, bottom: float) -> int:
    """Columns the page's lines between ``top`` and ``bottom`` part into at blank bands no line
    crosses (as the table reader finds them), or 0 if a line has text in one column only."""
    document = pdfium.PdfDocument(str(path))
    page = document[0]
    textpage = page.get_textpage()
    try:
        chars = [c for c in pdf_tables._page_chars(textpage) if bottom < c.center_y < top]
        rows = pdf_tables._lines(chars)
        cuts = pdf_tables._cuts(rows, pdf_tables._min_gap(10))
    finally:
        textpage.close()
        page.close()
        document.close()
    if any(len({bisect.bisect(cuts, (c.left + c.right) / 2) for c in row}) < 2 for row in rows):
        return 0
    return len(cuts) + 1


def test_borderless_table_with_a_header(tmp_path: Path) -> None:
    """Four columns aligned by whitespace alone, a bold header: one table, in place."""
    path = _pdf(tmp_path / "rates.pdf", lambda c: _draw_rates(c, 746))

    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == [RATES_MARKDOWN]
    assert [b.kind for b in blocks] == ["text", "table", "text"]
    prose = _prose(blocks)
    assert "table below." in prose and "paid within a month." in prose
    assert "Berlin" not in prose and "Hotel per night" not in prose


def test_borderless_table_stops_before_the_paragraph_under_it(tmp_path: Path) -> None:
    """A paragraph and a heading right under the last row, at the rows' spacing: not rows."""
    def draw(c: canvas.Canvas) -> None:
        y = _draw_rates(c, 746) - 14
        c.setFont("Helvetica", 10)
        for line in ("Rates are per person and include taxes. Where a hotel costs more, the",
                     "traveller asks the office manager before booking; the difference is",
                     "paid back only with a written approval."):
            c.drawString(72, y, line)
            y -= 14
        c.setFont("Helvetica-Bold", 13)
        c.drawString(72, y - 16, "Mileage")
        c.setFont("Helvetica", 10)
        c.drawString(72, y - 34, "Private cars are paid per kilometre.")

    blocks = parse_pdf(_pdf(tmp_path / "rates-then-text.pdf", draw)).blocks
    assert _tables(blocks) == [RATES_MARKDOWN]
    prose = " ".join(_prose(blocks).split())
    assert "Rates are per person and include taxes. Where a hotel costs more, the traveller" in prose
    assert "paid back only with a written approval." in prose
    assert [b.text for b in blocks if b.kind == "title"] == ["Mileage"]


def test_borderless_table_ends_at_a_line_across_its_columns(tmp_path: Path) -> None:
    """A source line under the rows parts in two like a row, but bridges the Q1 and Q2 columns:
    the table ends above it rather than merge the two columns to take it in."""
    def draw(c: canvas.Canvas) -> None:
        c.setFont("Helvetica", 10)
        rows = [("Region", "Q1", "Q2", "Q3"), ("North", "1,204", "1,310", "998"),
                ("South", "877", "902", "1,015"), ("East", "2,330", "2,118", "2,406")]
        for k, row in enumerate(rows):
            for x, text in zip((72, 180, 260, 340), row, strict=True):
                c.drawString(x, 746 - 14 * k, text)
        c.drawString(72, 690, "Source:")
        c.drawString(170, 690, "finance team figures")

    blocks = parse_pdf(_pdf(tmp_path / "sales.pdf", draw)).blocks
    assert _tables(blocks) == [
        "| Region | Q1 | Q2 | Q3 |\n|---|---|---|---|\n| North | 1,204 | 1,310 | 998 |\n"
        "| South | 877 | 902 | 1,015 |\n| East | 2,330 | 2,118 | 2,406 |"]
    assert "Source: finance team figures" in _prose(blocks)


def test_reportlab_tables_without_lines_numbers_set_right(tmp_path: Path) -> None:
    """Platypus tables with no line styles, as spreadsheets print: headers set left (or all
    cells right), amounts right. A header and the amounts under it are one column even where
    no row reaches across the blank between them."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    styles = getSampleStyleSheet()
    meals = Table([HEADER, *ROWS], hAlign="LEFT", colWidths=[140, 130, 130])
    meals.setStyle([("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("ALIGN", (1, 1), (-1, -1), "RIGHT")])
    sales = Table([["Region", "Q1", "Q2", "Q3"], ["North", "1,204", "1,310", "998"],
                   ["South", "877", "902", "1,015"], ["East", "2,330", "2,118", "2,406"]])
    sales.setStyle([("ALIGN", (1, 0), (-1, -1), "RIGHT")])
    path = tmp_path / "platypus.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build([
        Paragraph("The allowances are in the table below.", styles["BodyText"]), meals,
        Paragraph(PROSE, styles["BodyText"]), sales,
        Paragraph("Sales are in thousands of euros.", styles["BodyText"])])

    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == [
        MARKDOWN, "| Region | Q1 | Q2 | Q3 |\n|---|---|---|---|\n| North | 1,204 | 1,310 | 998 |\n"
                  "| South | 877 | 902 | 1,015 |\n| East | 2,330 | 2,118 | 2,406 |"]
    assert [b.kind for b in blocks] == ["text", "table", "text", "table", "text"]


def test_two_column_page_layout_without_rules_stays_text(tmp_path: Path) -> None:
    """Two text columns whose lines share baselines part at the gutter, but are running text."""
    def draw(c: canvas.Canvas) -> None:
        c.setFont("Helvetica", 10)
        words = " ".join([PROSE] * 6).split()
        for x in (LEFT, 306):
            line, y = "", 755.0
            while words and y > 560:
                if c.stringWidth(f"{line} {words[0]}", "Helvetica", 10) > 210:
                    c.drawString(x, y, line)
                    line, y = "", y - 13
                else:
                    line = f"{line} {words.pop(0)}".strip()

    path = _pdf(tmp_path / "two-columns.pdf", draw)
    assert _columns(path, 765, 560) == 2  # every line has text both sides of the gutter
    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == []
    assert "whatever the meal actually cost" in _prose(blocks)


OPTIONS = [("-v, --verbose", "Print every file name as it is copied."),
           ("-n, --dry-run", "Change nothing."), ("-q, --quiet", "Errors only."),
           ("-f, --force", "Overwrite files that already exist."), ("--retries N", "Try N times.")]


def _draw_options(c: canvas.Canvas, options: list[tuple[str, str]], header: bool) -> None:
    y = 746
    if header:
        c.setFont("Helvetica-Bold", 10)
        c.drawString(LEFT, y, "Option")
        c.drawString(180, y, "Meaning")
        y -= 13
    c.setFont("Helvetica", 10)
    for term, description in options:
        c.drawString(LEFT, y, term)
        c.drawString(180, y, description)
        y -= 13


def test_two_columns_under_a_bold_header_read_as_a_table(tmp_path: Path) -> None:
    """Two columns are a table only under a bold header; without one, a definition list."""
    short = [("-v, --verbose", "list every file"), ("-n, --dry-run", "change nothing"),
             ("-q, --quiet", "errors only")]
    for header in (True, False):
        path = _pdf(tmp_path / f"short-options-{header}.pdf",
                    lambda c, header=header: _draw_options(c, short, header))
        tables = _tables(parse_pdf(path).blocks)
        if header:
            assert tables == ["| Option | Meaning |\n|---|---|\n| -v, --verbose | list every file |\n"
                              "| -n, --dry-run | change nothing |\n| -q, --quiet | errors only |"]
        else:
            assert tables == []


def test_option_list_with_long_descriptions_stays_text(tmp_path: Path) -> None:
    """A manual's option list under a bold header, some descriptions of five words or more.

    The descriptions average fewer than five words and vary in length: only the longest cells
    tell them from a table's.
    """
    path = _pdf(tmp_path / "options.pdf", lambda c: _draw_options(c, OPTIONS, True))
    assert _columns(path, 760, 670) == 2
    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == []
    prose = _prose(blocks)
    assert "--force Overwrite files that already exist." in prose


def test_code_listing_without_rules_stays_text(tmp_path: Path) -> None:
    """A directory listing in Courier parts into aligned columns: fixed pitch, not a table."""
    listing = ["drwxr-xr-x   2 root   4096  bin",
               "-rw-r--r--   1 root    220  .profile",
               "-rw-r--r--   1 root   3771  .bashrc",
               "drwx------   3 root   4096  .ssh"]

    def draw(c: canvas.Canvas) -> None:
        c.setFont("Courier", 10)
        for k, line in enumerate(listing):
            c.drawString(LEFT, 746 - 12 * k, line)

    path = _pdf(tmp_path / "code.pdf", draw)
    assert _columns(path, 760, 700) >= 4
    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == []
    assert "-rw-r--r-- 1 root 3771 .bashrc" in _prose(blocks)


def test_bulleted_list_with_hanging_indent_stays_text(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Bullets in a column of their own, short items, one wrapped under its text: a list.

    Two columns without a bold header are a definition list already; the bullets are what
    keeps the list text even where that rule is off.
    """
    items = [["Book the cheapest fare"], ["Keep every receipt"], ["Claim within thirty days"],
             ["Ask your manager before booking a hotel above the rates in the table,",
              "and attach the approval to the claim"], ["Use the company card"]]

    def draw(c: canvas.Canvas) -> None:
        c.setFont("Helvetica", 10)
        y = 746.0
        for item in items:
            c.drawString(LEFT + 4, y, "\u2022")
            for line in item:
                c.drawString(LEFT + 18, y, line)
                y -= 13

    path = _pdf(tmp_path / "bullets.pdf", draw)
    assert _columns(path, 760, 715) == 2  # the first three items part like two columns
    monkeypatch.setattr(pdf_tables, "_definition_list", lambda textpage, rows, cells: False)
    blocks = parse_pdf(path).blocks
    assert _tables(blocks) == []
    assert "Keep every receipt" in _prose(blocks)


def test_justified_paragraphs_with_wide_word_spaces_stay_text(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Justified text in narrow columns: a few words a line, spaces stretched past a column gap.

    At some widths the stretched spaces of consecutive lines line up (a river) into what parts
    like three columns of one or two words; what keeps them text is that each line spaces its
    words alike. Without that check, one of the widths reads as a table.
    """
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Frame, Paragraph

    style = ParagraphStyle("justified", fontName="Helvetica", fontSize=10, leading=13,
                           alignment=TA_JUSTIFY)
    paths = []
    for width in range(86, 110, 2):
        def draw(c: canvas.Canvas, width: float = width) -> None:
            Frame(LEFT, 310, width, 460, leftPadding=0, rightPadding=0).addFromList(
                [Paragraph(PROSE, style)], c)

        paths.append(_pdf(tmp_path / f"justified-{width}.pdf", draw))
    for path in paths:
        blocks = parse_pdf(path).blocks
        assert _tables(blocks) == []
        assert "whatever the meal actually cost" in " ".join(_prose(blocks).split())
    monkeypatch.setattr(pdf_tables, "_justified", lambda rows, cells, size: False)
    assert any(_tables(parse_pdf(path).blocks) for path in paths)


def test_table_of_contents_stays_text(tmp_path: Path) -> None:
    """Section numbers, titles and page numbers in columns, with dot leaders or without."""
    entries = [("1", "Travel", "3"), ("1.1", "Booking", "3"), ("1.2", "Per diem", "4"),
               ("2", "Expenses", "6"), ("2.1", "Receipts", "7")]

    def draw(c: canvas.Canvas, leaders: bool) -> None:
        c.setFont("Helvetica", 10)
        for k, (number, title, page) in enumerate(entries):
            y = 746 - 14 * k
            c.drawString(LEFT, y, number)
            c.drawString(LEFT + 40, y, f"{title} {'. ' * 20}" if leaders else title)
            c.drawRightString(360, y, page)

    for leaders in (True, False):
        path = _pdf(tmp_path / f"toc-{leaders}.pdf", lambda c, leaders=leaders: draw(c, leaders))
        assert _columns(path, 760, 680) == 3
        blocks = parse_pdf(path).blocks
        assert _tables(blocks) == []
        assert "Per diem" in _prose(blocks)
