"""The draft watch: when a streaming draft is complete enough to check, and when it stops."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from generation.draft import DraftRecord, DraftWatch, complete_sentences
from generation.types import Sentence


def _texts(text: str) -> list[str]:
    return [text[s:e] for s, e in complete_sentences(text)]


@pytest.mark.parametrize(("draft", "complete"), [
    ("", []),
    ("The cap is EUR 180", []),
    ("The cap is EUR 180.", []),  # the last sentence may still get its marker
    ("The cap is EUR 180. [1", []),
    ("The cap is EUR 180. [1]", []),
    ("The cap is EUR 180 [1]. It", ["The cap is EUR 180 [1]."]),
    ("The cap is EUR 180. [1] It", ["The cap is EUR 180. [1]"]),
    ("The cap is EUR 180.\n3", []),  # a number alone is not yet the next sentence
    ("The cap is EUR 180 [1]. Meals are EUR 45 [2]. Taxis", [
        "The cap is EUR 180 [1].", "Meals are EUR 45 [2]."]),
    ("See p. 2 for the cap", []),  # an abbreviation does not end a sentence
])
def test_complete_sentences(draft: str, complete: list[str]) -> None:
    assert _texts(draft) == complete


def _sentence(supported: bool) -> Sentence:
    return Sentence("s", [1], supported, 0.7 if supported else 0.1, [])


class FakeCheck:
    """Judges each complete sentence by a word in it: 'good' supported, 'NF' not found."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, draft: str) -> Sequence[Sentence] | None:
        self.calls.append(draft)
        if "NF" in draft:
            return None
        return [_sentence("good" in s) for s in _texts(draft + " X")]


def _feed(watch: DraftWatch, text: str) -> tuple[str | None, int]:
    """Feed ``text`` word by word; (reason, words fed) when it stopped, or (None, all)."""
    words = text.split(" ")
    for i in range(1, len(words) + 1):
        reason = watch.feed(" ".join(words[:i]))
        if reason:
            return reason, i
    return None, len(words)


def test_an_unsupported_first_sentence_stops_the_draft() -> None:
    check = FakeCheck()
    watch = DraftWatch(check, min_sentences=1, max_sentences=0, min_supported=0.5)
    reason, fed = _feed(watch, "It is bad [1]. Then more words follow here. And more.")
    assert reason == "unsupported"
    assert fed == 5  # stopped as soon as the second sentence began
    assert watch.text == "It is bad [1]."
    assert check.calls == ["It is bad [1]."]  # one check per completed sentence


def test_a_supported_draft_goes_on_and_stops_when_it_turns_bad() -> None:
    watch = DraftWatch(FakeCheck(), min_sentences=1, max_sentences=0, min_supported=0.5)
    reason, _ = _feed(watch, "All good [1]. Also bad [1]. Still bad [1]. Next")
    assert reason == "unsupported"  # 1 of 3 supported
    assert watch.text == "All good [1]. Also bad [1]. Still bad [1]."


def test_a_later_first_check_gives_the_draft_a_chance() -> None:
    watch = DraftWatch(FakeCheck(), min_sentences=2, max_sentences=0, min_supported=0.5)
    assert _feed(watch, "It is bad [1]. Then good [1]. And so")[0] is None


def test_a_draft_saying_not_found_stops() -> None:
    watch = DraftWatch(FakeCheck(), min_sentences=1, max_sentences=0, min_supported=0.5)
    assert _feed(watch, "NF here. And the model rambles on.")[0] == "not_found"


def test_a_long_draft_stops_after_max_sentences() -> None:
    check = FakeCheck()
    watch = DraftWatch(check, min_sentences=0, max_sentences=2, min_supported=0.5)
    reason, _ = _feed(watch, "It is bad [1]. Then good [1]. Third one. Fourth")
    assert reason == "long" and watch.text == "It is bad [1]. Then good [1]."
    # min_sentences 0: not checked for support, only counted once it may be long
    assert check.calls == ["It is bad [1]. Then good [1]."]


class FakeEchoCheck(FakeCheck):
    """As FakeCheck, but sentences with 'ECHO' are removed (an echoed prompt)."""

    def __call__(self, draft: str) -> Sequence[Sentence] | None:
        self.calls.append(draft)
        return [_sentence(True) for s in _texts(draft + " X") if "ECHO" not in s]


def test_removed_sentences_do_not_count_towards_max_sentences() -> None:
    watch = DraftWatch(FakeEchoCheck(), min_sentences=0, max_sentences=2, min_supported=0.5)
    reason, _ = _feed(watch, "ECHO one. ECHO two. Meals are EUR 45 [1]. Hotels too [1]. End")
    assert reason == "long"
    assert watch.text == "ECHO one. ECHO two. Meals are EUR 45 [1]. Hotels too [1]."


def test_switched_off_it_never_stops() -> None:
    watch = DraftWatch(FakeCheck(), min_sentences=0, max_sentences=0, min_supported=0.5)
    assert _feed(watch, "Bad [1]. Bad [1]. Bad [1]. Bad [1]. Bad")[0] is None
    assert watch.reason is None and watch.text == ""


def test_the_record_skips_a_model_whose_drafts_fail_and_probes_it() -> None:
    record = DraftRecord(history=4, skip_below=0.25, probe_every=5)
    for _ in range(3):
        assert record.should_draft("c")
        record.add("c", kept=False)
    assert record.should_draft("c")  # not enough history yet
    record.add("c", kept=False)
    answers = [record.should_draft("c") for _ in range(10)]
    assert answers.count(True) == 2 and answers[4] and answers[9]  # the probes
    record.add("c", kept=True)  # a probe's draft kept: 1 of the last 4
    assert record.kept_share("c") == 0.25 and record.should_draft("c")
    assert record.should_draft("elsewhere") and record.kept_share("elsewhere") is None


def test_a_record_with_skip_below_zero_never_skips() -> None:
    record = DraftRecord(history=1, skip_below=0.0)
    record.add("c", kept=False)
    assert all(record.should_draft("c") for _ in range(10))


def test_a_record_starts_from_the_outcomes_recorded_earlier() -> None:
    asked: list[object] = []

    def earlier(scope: object) -> list[bool]:
        asked.append(scope)
        return {"c": [True] + [False] * 5, "d": [True, True]}.get(scope, [])  # type: ignore[call-overload]

    record = DraftRecord(history=4, skip_below=0.25, probe_every=5, earlier=earlier)
    assert not record.should_draft("c")  # the last 4 of 6 earlier drafts were all replaced
    assert record.kept_share("c") == 0.0
    assert record.should_draft("d")  # 2 kept: too few to judge, and kept anyway
    assert record.should_draft("e") and record.kept_share("e") is None
    record.should_draft("c")
    assert asked == ["c", "d", "e"]  # read once per scope


def test_a_record_whose_earlier_outcomes_cannot_be_read_starts_empty() -> None:
    def broken(scope: object) -> list[bool]:
        raise RuntimeError("database down")

    record = DraftRecord(history=2, skip_below=0.5, earlier=broken)
    assert record.should_draft("c") and record.kept_share("c") is None
    record.add("c", kept=False)
    record.add("c", kept=False)
    assert not record.should_draft("c")
