"""Matched words of a passage, as the search page marks them."""

from __future__ import annotations

from retrieval.highlight import highlight


def test_pieces_join_back_and_mark_stem_matches() -> None:
    text = "Meal allowances: the daily meal allowance is EUR 45 (domestic)."
    pieces = highlight(text, "What is the meal allowance?")
    assert "".join(p for p, _ in pieces) == text
    assert [p for p, hit in pieces if hit] == ["Meal", "allowances", "meal", "allowance"]


def test_stopwords_and_no_match_leave_the_text_whole() -> None:
    assert highlight("The rules of the road.", "what is the") == [("The rules of the road.", False)]
    assert highlight("", "meal") == []
    assert highlight("Nothing here.", "meal") == [("Nothing here.", False)]


def test_markup_is_plain_text() -> None:
    pieces = highlight("<b>meal</b> & <script>", "meal")
    assert pieces == [("<b>", False), ("meal", True), ("</b> & <script>", False)]
