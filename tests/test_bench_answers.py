"""bench/eval_answers.py's judging, without a model: what counts as correct, as "true but not
an answer", and how the per-policy rows add up."""

from __future__ import annotations

from typing import Any

from bench.eval_answers import Item, judge, score

GOLD = ("curl is export controlled as 5D002: its ECCN number is 5D002, which applies to "
        "software with encryption; the project has no export licence of its own.")
FAQ = Item("curl's ECCN number?", GOLD, "faq.docx", short_gold=False)
HANDBOOK = Item("What is the daily meal allowance for domestic trips?", "EUR 45", "travel.pdf",
                short_gold=True)


def _answer(text: str, sentences: list[tuple[str, bool, list[int]]],
            cited: list[tuple[int, str, str]], abstained: bool = False) -> dict[str, Any]:
    return {"answer": text, "mode": "generative", "abstained": abstained,
            "citations": [{"n": n, "document": doc, "text": passage} for n, doc, passage in cited],
            "sentences": [{"text": t, "supported": ok, "citations": c} for t, ok, c in sentences]}


def test_faq_answer_must_say_more_than_the_question() -> None:
    restated = judge(FAQ, _answer("The answer is: [1] curl's ECCN number?",
                                  [("The answer is: [1] curl's ECCN number?", True, [1])],
                                  [(1, "faq.docx", GOLD)]))
    assert not restated["correct"] and restated["true_not_answer"]
    answered = judge(FAQ, _answer("curl's ECCN number is 5D002 [1].",
                                  [("curl's ECCN number is 5D002 [1].", True, [1])],
                                  [(1, "faq.docx", GOLD)]))
    assert answered["correct"] and not answered["true_not_answer"]
    assert answered["citations"] == [{"n": 1, "document": "faq.docx", "correct": True}]


def test_faq_answer_from_the_wrong_passage_is_not_correct() -> None:
    row = judge(FAQ, _answer("curl is licensed under MIT [1].",
                             [("curl is licensed under MIT [1].", True, [1])],
                             [(1, "license.docx", "curl is licensed under an MIT-style licence.")]))
    assert not row["correct"] and row["true_not_answer"]  # true, and beside the question


def test_handbook_gold_string_and_flagged_sentences() -> None:
    right = judge(HANDBOOK, _answer("It is EUR 45 [1].", [("It is EUR 45 [1].", True, [1])],
                                    [(1, "travel.pdf", "The daily meal allowance is EUR 45.")]))
    wrong = judge(HANDBOOK, _answer("It is EUR 10 [1].", [("It is EUR 10 [1].", False, [1])],
                                    [(1, "travel.pdf", "The daily meal allowance is EUR 45.")]))
    abstained = judge(HANDBOOK, _answer("The documents do not say.", [], [], abstained=True))
    assert right["correct"] and not wrong["correct"] and not wrong["true_not_answer"]
    rows = [{**r, "first_token_s": t, "total_s": 2.0}
            for r, t in ((right, 1.0), (wrong, 3.0), (abstained, None))]
    m = score(rows)
    assert m["questions"] == 3 and m["correct"] == 1 / 3 and m["answered"] == 2 / 3
    assert m["flagged"] == 0.5 and m["citation_precision"] == 1.0  # both cite the right passage
    assert m["first_token_s"] == 2.0 and m["total_s"] == 2.0
