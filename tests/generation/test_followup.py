"""The follow-up rewrite (generation/followup.py): rules, concat, the model with its guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generation.followup import (
    FollowupRewriter,
    clean_model_reply,
    content_words,
    is_dependent,
    rewrite_rules,
    strip_lead,
)

MEAL = "What is the daily meal allowance for domestic trips?"


@pytest.mark.parametrize("question", [
    "and for international trips?", "what about international trips?", "how do I undo it?",
    "is that taxed?", "And on Windows?", "why?", "how about the default value?",
    "does it work on win32?",
])
def test_dependent_follow_ups(question: str) -> None:
    assert is_dependent(question)


@pytest.mark.parametrize("question", [
    "How many days of annual leave do employees get?",
    "Which cabin class must be booked for long flights?",
    "Where does the android keyword ownership come from",
])
def test_self_contained_questions(question: str) -> None:
    assert not is_dependent(question)


def test_lead_is_stripped_and_topic_added() -> None:
    assert strip_lead("And what about international trips?") == "international trips?"
    assert strip_lead("android phones") == "android phones"  # "and" only as a whole word
    assert rewrite_rules(MEAL, "and for international trips?") == (
        "for international trips (daily meal allowance domestic)")
    # the follow-up's own words are not repeated; pronouns never count as topic words
    assert rewrite_rules("How do I resume a transfer with curl?", "can I resume it?") == (
        "can I resume it (transfer curl)")


def test_self_contained_question_is_searched_as_asked() -> None:
    question = "How many days of annual leave do employees get?"
    assert rewrite_rules(MEAL, question) == question
    assert rewrite_rules("", "and for international trips?") == "and for international trips?"
    assert rewrite_rules(MEAL, question, always=True).endswith("(daily meal allowance "
                                                                "domestic trips)")


def test_content_words_drop_stop_words_and_pronouns() -> None:
    assert content_words("How do I tell it to follow HTTP redirects?") == [
        "follow", "http", "redirects"]


def test_rewriter_methods() -> None:
    follow = "and for international trips?"
    assert FollowupRewriter("off").rewrite([MEAL], follow).query == follow
    concat = FollowupRewriter("concat").rewrite([MEAL], follow)
    assert concat.query == f"{MEAL} {follow}" and concat.method == "concat" and concat.rewritten
    rules = FollowupRewriter("rules").rewrite(["old question", MEAL], follow)  # the last one
    assert rules.method == "rules" and "meal allowance" in rules.query
    first = FollowupRewriter("rules").rewrite([], follow)  # nothing before: as asked
    assert first.query == follow and first.method == "off" and not first.rewritten
    with pytest.raises(ValueError):
        FollowupRewriter("guess")


def test_chain_rewrites_each_earlier_question_in_turn() -> None:
    rw = FollowupRewriter("rules")
    out = rw.rewrite_chain(["How do I install zsh?", "and on Windows?"], "where do I get it?")
    # "and on Windows?" became "on Windows (install zsh)", whose words the last one gets
    assert out.query == "where do I get it (windows install zsh)"


class FakeModel:
    model_name = "fake.gguf"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages, max_tokens: int, temperature: float) -> Iterator[str]:  # type: ignore[no-untyped-def]
        self.prompts.append(messages)
        yield self.reply


def test_model_rewrite_and_its_guard() -> None:
    follow = "and for international trips?"
    good = FakeModel("What is the daily meal allowance for international trips?")
    out = FollowupRewriter("model", good).rewrite([MEAL], follow)
    assert out.method == "model" and out.query == good.reply
    assert "Follow-up: and for international trips?" in good.prompts[0][-1]["content"]
    echo = FakeModel(MEAL)  # the bundled 135M model mostly echoes the previous question
    rw = FollowupRewriter("model", echo)
    out = rw.rewrite([MEAL], follow)
    assert out.query == rewrite_rules(MEAL, follow) and rw.model_rejected == 1
    # a self-contained question never reaches the model
    assert FollowupRewriter("model", echo).rewrite(
        [MEAL], "How many days of annual leave do employees get?").query
    assert len(echo.prompts) == 1


@pytest.mark.parametrize("reply", ["", "   ", "x" * 500, "Paris is nice.",
                                   "What is the daily meal allowance for domestic trips?"])
def test_unusable_model_replies(reply: str) -> None:
    assert clean_model_reply(reply, MEAL, "and for international trips?") is None
