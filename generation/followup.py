"""Follow-up questions rewritten into a standalone search query, using the conversation.

"and for international trips?" after "What is the meal allowance?" is searched on its own
words and finds nothing useful. Before retrieval a follow-up is rewritten with the
conversation's previous question (its own standalone form, so chains of follow-ups work):

- ``off``: searched as asked.
- ``concat``: the previous question and the follow-up, one after the other.
- ``rules``: only a *dependent* follow-up (it opens with "and", "what about", "how about"...,
  refers back with it / this / that / they..., or has at most two content words) is
  rewritten: the follow-up, its opening ("and", "what about") dropped, followed by the
  previous question's content words it does not repeat. A self-contained question is
  searched as asked.
- ``model``: the answering model is asked to rewrite a dependent follow-up as a standalone
  question (few-shot prompt); an empty, overlong or unrelated reply falls back to ``rules``.

Which one is the default was measured on the retrieval harness's follow-up sets
(``bench/eval_followups.py``; docs/evaluation.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from generation.types import Generator, Message

Method = Literal["off", "concat", "rules", "model"]
METHODS: tuple[str, ...] = ("off", "concat", "rules", "model")

_WORD_RE = re.compile(r"[\w][\w'.+/-]*[\w]|[\w]", re.UNICODE)
#: Openings that make a question a follow-up of the previous one.
LEADS = ("and what about", "and how about", "what about", "how about", "and if", "and",
         "also", "so", "but", "then", "ok", "okay", "what if")
#: Words that point back at the previous question's subject.
PRONOUNS = frozenset("it its it's this that these those they them their theirs one ones "
                     "there same such he she him her".split())
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't
doing don't down during each either else ever few for from further get gets getting got had
hasn't has have haven't having here how i i'd i'll i'm i've if in into is isn't it it's its
itself just let's like may me might more most must mustn't my myself need no nor not now of
off on once only or other ought our ours ourselves out over own please same shall should
shouldn't so some still such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those though through to too under
until up upon us very was wasn't we we'd we'll we're we've were weren't what what's when
when's where where's whether which while who who's whom why why's will with won't would
wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves also ok okay
tell know want wanted way ways use used using make makes made work works thing things one
ones really any anything something anyway instead else same kind sort lot lots much many
""".split())
_MAX_MODEL_TOKENS = 48
_FEW_SHOT: tuple[tuple[str, str, str], ...] = (
    ("How do I install Python on Linux?", "and on Windows?", "How do I install Python on Windows?"),
    ("What is the meal allowance?", "what about international trips?",
     "What is the meal allowance for international trips?"),
    ("How do I create a backup of the database?", "how do I restore it?",
     "How do I restore a backup of the database?"),
)
_SYSTEM = ("Rewrite the user's follow-up question as one standalone question that can be "
           "understood without the conversation. Reply with the question only.")


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The query a question is searched with, and how it came about."""

    question: str
    query: str
    method: str  # "off" (searched as asked), "concat", "rules" or "model"
    seconds: float = 0.0

    @property
    def rewritten(self) -> bool:
        """Whether the query differs from the question."""
        return self.query != self.question


def words(text: str) -> list[str]:
    """Lower-cased words (keeping ``ca-bundle.crt``, ``-F``-like tokens whole)."""
    return [w.lower() for w in _WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic (no stop words, no pronouns), in order."""
    seen: set[str] = set()
    out = []
    for w in words(text):
        if w in STOPWORDS or w in PRONOUNS or w in seen or (len(w) < 2 and not w.isdigit()):
            continue
        seen.add(w)
        out.append(w)
    return out


def _lead(question: str) -> str | None:
    low = question.strip().lower()
    for lead in LEADS:
        if low == lead or re.match(re.escape(lead) + r"\b", low):
            return lead
    return None


def is_dependent(question: str) -> bool:
    """Whether ``question`` needs the previous one to be understood.

    It does when it opens with a follow-up lead ("and", "what about"...), points back (it /
    this / they...), or is too short to stand alone (at most two content words).
    """
    if _lead(question) is not None:
        return True
    ws = set(words(question))
    return bool(ws & PRONOUNS) or len(content_words(question)) <= 2


def strip_lead(question: str) -> str:
    """``question`` without its follow-up opening ("and", "what about"...)."""
    lead = _lead(question)
    text = question.strip()
    if lead is not None:
        text = text[len(lead):].lstrip(" ,.-:;")
    return text or question.strip()


def rewrite_rules(previous: str, question: str, always: bool = False) -> str:
    """The follow-up (its opening dropped) with the previous question's new content words.

    A self-contained question is returned unchanged (``always``: every question gets them).
    """
    if not previous.strip() or not (always or is_dependent(question)):
        return question.strip()
    core = strip_lead(question).rstrip(" ?!.")
    have = set(content_words(core))
    topic = [w for w in content_words(previous) if w not in have]
    if not topic:
        return question.strip()
    return f"{core} ({' '.join(topic)})"


def rewrite_concat(previous: str, question: str) -> str:
    """The previous question and the follow-up, one after the other."""
    return f"{previous.strip()} {question.strip()}".strip()


def model_messages(previous: str, question: str) -> list[Message]:
    """The few-shot chat prompt asking the model for the standalone question."""
    messages: list[Message] = [{"role": "system", "content": _SYSTEM}]
    for prev, follow, standalone in _FEW_SHOT:
        messages.append({"role": "user",
                         "content": f"Previous question: {prev}\nFollow-up: {follow}"})
        messages.append({"role": "assistant", "content": standalone})
    messages.append({"role": "user",
                     "content": f"Previous question: {previous.strip()}\n"
                                f"Follow-up: {question.strip()}"})
    return messages


def clean_model_reply(reply: str, previous: str, question: str) -> str | None:
    """The model's standalone question, or None when it is unusable.

    Unusable: empty, far longer than both questions together, the previous question echoed
    (what the bundled 135M model mostly does), or without half of the follow-up's own content
    words.
    """
    text = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    text = re.sub(r"^(standalone question|question|rewritten)\s*:\s*", "", text,
                  flags=re.IGNORECASE).strip().strip('"').strip()
    if len(text) < 3 or len(text) > 2 * (len(previous) + len(question)) + 40:
        return None
    mine = set(content_words(text))
    own = set(content_words(strip_lead(question)))
    if text.lower().rstrip(" ?") == previous.strip().lower().rstrip(" ?"):
        return None
    if own and len(mine & own) * 2 < len(own):
        return None
    if not mine & set(content_words(previous)):
        return None
    return text


class FollowupRewriter:
    """Rewrites a conversation's follow-up question into its standalone search query."""

    def __init__(self, method: str, generator: Generator | None = None,
                 max_chars: int = 2000) -> None:
        if method not in METHODS:
            raise ValueError(f"followup rewrite must be one of {METHODS}, not {method!r}")
        self.method = method
        self._generator = generator
        self._max_chars = max_chars
        self.model_rejected = 0  # model replies replaced by the rules' rewrite (bench counts)

    def rewrite(self, previous: Sequence[str], question: str) -> Rewrite:
        """The query for ``question`` after the conversation's earlier standalone queries.

        ``previous`` is oldest first; only the last one is used.
        """
        question = question.strip()
        prev = next((p.strip() for p in reversed(previous) if p and p.strip()), "")
        t0 = time.perf_counter()
        if not prev or self.method == "off":
            return Rewrite(question, question, "off")
        if self.method == "concat":
            query, method = rewrite_concat(prev, question), "concat"
        elif self.method == "model" and self._generator is not None and is_dependent(question):
            query, method = self._model(prev, question), "model"
        else:
            query, method = rewrite_rules(prev, question), "rules"
        query = query[: self._max_chars]
        if query == question:
            method = "off"
        return Rewrite(question, query, method, time.perf_counter() - t0)

    def rewrite_chain(self, earlier: Sequence[str], question: str, last: int = 3) -> Rewrite:
        """The query for ``question`` after the user's ``earlier`` questions as asked.

        ``earlier`` is oldest first (e.g. an OpenAI-style request's earlier user messages):
        the last ``last`` of them are rewritten in turn, each with the one before, then
        ``question``.
        """
        standalone: list[str] = []
        for q in [e for e in earlier if e and e.strip()][-last:]:
            standalone.append(self.rewrite(standalone, q).query)
        return self.rewrite(standalone, question)

    def _model(self, previous: str, question: str) -> str:
        assert self._generator is not None
        reply = "".join(self._generator.stream(model_messages(previous, question),
                                               _MAX_MODEL_TOKENS, 0.0))
        cleaned = clean_model_reply(reply, previous, question)
        self.model_rejected += cleaned is None
        return cleaned if cleaned is not None else rewrite_rules(previous, question)
