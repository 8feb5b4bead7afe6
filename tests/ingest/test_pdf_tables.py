"""Tables drawn with horizontal rules only (booktabs, report templates) read from PDFs.

The PDFs are drawn here with reportlab: tables as LaTeX's booktabs and office report templates
set them, and the layouts that must stay text (a paragraph, two text columns, a code listing
between rules). Each negative is compared with the same page drawn without its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

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


def test_a_single_rule_under_a_header_stays_text(tmp_path: Path) -> None:
    """One rule alone does not say where a table ends: left as text (conservative)."""
    def draw(c: canvas.Canvas, rules: bool) -> None:
        _row(c, 746, HEADER, "Helvetica-Bold")
        if rules:
            _rule(c, 740)
        for k, row in enumerate(ROWS):
            _row(c, 726 - 14 * k, row)

    _unchanged(tmp_path, draw)


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
