"""Watching a model's draft as it is written, to stop paying for text that will be thrown away.

The draft streams to the reader as it is written (marked as a draft) and is checked against its
sources when it ends (:meth:`generation.answerer.Answerer.finish`). :class:`DraftWatch` checks
it earlier: each time the draft completes a sentence (the next one has begun), the complete
sentences are checked as the finished answer would be, and generation stops when what follows
cannot change the outcome:

- ``unsupported`` (auto mode): after at least ``generation.early_stop_sentences`` complete
  sentences, fewer than ``generation.auto_min_supported`` of them are supported, so the
  quotes will replace the draft (a later supported sentence could only rescue a draft whose
  first sentences failed if the model went on well past the one or two sentences it is
  asked for);
- ``not_found``: the draft says the documents do not answer (it becomes an abstention);
- ``long``: the draft has ``generation.max_sentences`` complete sentences that survive the
  safety rules (an echoed prompt does not count) (the prompt asks
  for one or two; small models go on with loosely related, mostly unsupported sentences).

The answer is then finished from the complete sentences (:attr:`DraftWatch.text`); the
sentence still being written is dropped.

Stopping early saves the draft's tokens, not the prompt the model reads first, which is most of
a small model's time on a CPU. :class:`DraftRecord` decides before the model is asked: it keeps
the outcomes of the model's recent drafts per collection scope, and when nearly all were
replaced by quotes (``generation.skip_model_below``) the quotes are the answer at once; every
``generation.draft_probe_every``-th such question is still drafted, so the record follows a
better model or other documents.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from generation.sentences import MARKER_RE, sentence_spans
from generation.support import supported_share
from generation.types import Sentence

log = logging.getLogger(__name__)

StopReason = Literal["unsupported", "not_found", "long"]
#: The checked sentences of a draft, or None when the draft says the documents do not answer.
DraftCheck = Callable[[str], Sequence[Sentence] | None]


def complete_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of a growing ``text`` that can no longer change.

    The last sentence may still grow, and a sentence is only complete once words follow it:
    its ``[n]`` markers may still be on their way (``EUR 45. [1`` is not yet a sentence and
    its marker).
    """
    spans = sentence_spans(text)
    n = len(spans) - 1
    while n > 0 and not _has_words(text[spans[n - 1][1]:]):
        n -= 1
    return spans[:max(n, 0)]


def _has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in MARKER_RE.sub(" ", text).replace("[", " "))


@dataclass
class DraftWatch:
    """Says when a streaming draft should stop (see the module docstring).

    ``check`` returns a draft's checked sentences (None: the draft abstains).
    ``min_sentences`` 0 never stops on support; ``max_sentences`` 0 sets no length limit.
    """

    check: DraftCheck
    min_sentences: int
    max_sentences: int
    min_supported: float
    #: The draft up to its last complete sentence, once :meth:`feed` said stop.
    text: str = ""
    reason: StopReason | None = None
    #: Sentences checked while the draft was written (for measurements).
    checks: int = 0
    _complete: int = field(default=0, repr=False)

    def feed(self, draft: str) -> StopReason | None:
        """The draft so far; a reason to stop generating now, or None to go on."""
        spans = complete_sentences(draft)
        if len(spans) <= self._complete:
            return None
        self._complete = len(spans)
        prefix = draft[:spans[-1][1]]
        reason: StopReason | None = None
        sentences: Sequence[Sentence] | None = None
        checked = False
        if self.min_sentences and len(spans) >= self.min_sentences:
            self.checks += 1
            sentences, checked = self.check(prefix), True
            if sentences is None:
                reason = "not_found"
            elif sentences and supported_share(sentences) < self.min_supported:
                reason = "unsupported"
        if reason is None and self.max_sentences and len(spans) >= self.max_sentences:
            # only sentences that survive the safety rules count (an echoed prompt does not)
            if not checked:
                self.checks += 1
                sentences = self.check(prefix)
            if sentences is None:
                reason = "not_found"
            elif len(sentences) >= self.max_sentences:
                reason = "long"
        if reason is not None:
            self.text, self.reason = prefix, reason
        return reason


class DraftRecord:
    """Whether a model's recent drafts per scope were kept; says when not to ask it at all.

    ``skip_below`` 0 never skips; while skipping, every ``probe_every``-th question is drafted.
    Thread-safe. ``earlier(scope)``, when given, returns the scope's last outcomes recorded
    before this process started (kept = True, oldest first; the services read them from the
    answer records): a scope's record starts from them, so a restarted or added web process
    does not pay for ``history`` drafts again before it may skip.
    """

    def __init__(self, history: int, skip_below: float, probe_every: int = 25,
                 earlier: Callable[[Hashable], Sequence[bool]] | None = None) -> None:
        self.history = history
        self.skip_below = skip_below
        self.probe_every = probe_every
        self.earlier = earlier
        self._outcomes: dict[Hashable, deque[bool]] = {}
        self._skipped: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def _seed(self, scope: Hashable) -> None:
        """Start ``scope``'s record from the outcomes recorded earlier (once per scope)."""
        if self.earlier is None:
            return
        with self._lock:
            if scope in self._outcomes:
                return
        try:
            found = list(self.earlier(scope))[-self.history:]
        except Exception:  # noqa: BLE001 - no earlier record: learn from scratch
            log.warning("could not read earlier draft outcomes for %r", scope, exc_info=True)
            found = []
        with self._lock:
            self._outcomes.setdefault(scope, deque(found, maxlen=self.history))

    def should_draft(self, scope: Hashable) -> bool:
        """False when the last ``history`` drafts of ``scope`` were nearly all replaced."""
        if not self.skip_below:
            return True
        self._seed(scope)
        with self._lock:
            outcomes = self._outcomes.get(scope)
            if outcomes is None or len(outcomes) < self.history:
                return True
            if sum(outcomes) / len(outcomes) >= self.skip_below:
                return True
            skipped = self._skipped[scope] = self._skipped.get(scope, 0) + 1
            return skipped % self.probe_every == 0  # a probe, so the record keeps up

    def add(self, scope: Hashable, kept: bool) -> None:
        """The outcome of a finished draft: kept, or replaced."""
        with self._lock:
            self._outcomes.setdefault(scope, deque(maxlen=self.history)).append(kept)

    def kept_share(self, scope: Hashable) -> float | None:
        """Share of the recorded drafts of ``scope`` that were kept (None: none recorded)."""
        with self._lock:
            outcomes = self._outcomes.get(scope)
            return sum(outcomes) / len(outcomes) if outcomes else None
