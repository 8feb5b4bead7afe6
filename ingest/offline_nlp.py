"""An offline stand-in for the spaCy model that ``unstructured`` downloads on first use.

``unstructured`` classifies plain-text lines (narrative text vs. title) with spaCy's
``en_core_web_sm``; when that model is missing it downloads a wheel from GitHub at run time,
which an air-gapped host must never do and which no package registry ships officially.
:func:`install` replaces the loader with a blank English pipeline (rule-based sentence
splitting, shipped inside spaCy itself) plus a small lexicon tagger that marks common verbs,
so unstructured's "does this line contain a verb?" heuristic keeps working without a model.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_COMMON_VERBS = frozenset(
    """
    be is are was were been being am 's 're have has had having do does did done doing
    will would shall should can could may might must need needs ought
    get gets got make makes made take takes took go goes went come comes came see sees saw
    know knows knew give gives gave find finds found use uses used work works keep keeps
    tell tells ask asks seem seems feel feels try tries leave leaves call calls provide
    provides include includes allow allows require requires apply applies pay pays cover
    covers receive receives report reports submit submits contact contacts send sends
    start starts begin begins continue continues follow follows help helps let lets
    set sets run runs hold holds bring brings write writes read reads meet meets
    lead leads stay stays book books change changes return returns explain explains
    describe describes contain contains become becomes remain remains mean means
    note notes ensure ensures enable enables store stores protect protects lock locks
    agree agrees approve approves review reviews list lists show shows say says said
    """.split()
)
_VERB_SUFFIXES = ("ed", "ing", "ise", "ize", "ises", "izes", "ates", "ate")

_lock = threading.Lock()
_installed = False


def _tag(word: str) -> str:
    lower = word.lower()
    if lower in _COMMON_VERBS:
        return "VB"
    if lower.isalpha() and len(lower) > 4 and lower.endswith(_VERB_SUFFIXES):
        return "VB"
    return "NN" if word.isalpha() else ""


@lru_cache(maxsize=1)
def offline_pipeline() -> Any:
    """A spaCy pipeline that needs no downloaded model."""
    import spacy
    from spacy.language import Language

    if "enclave_lexicon_tagger" not in Language.factories:

        @Language.component("enclave_lexicon_tagger")
        def _lexicon_tagger(doc: Any) -> Any:
            for token in doc:
                token.tag_ = _tag(token.text)
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("enclave_lexicon_tagger")
    return nlp


def install() -> None:
    """Point unstructured's spaCy loader at :func:`offline_pipeline` (idempotent).

    Also skips the narrative-text check of its HTML partitioner (:func:`_narrative_unused`).
    """
    global _installed
    with _lock:
        if _installed:
            return
        from unstructured.nlp import tokenize
        from unstructured.partition.html import parser as html_parser

        tokenize._get_nlp = offline_pipeline
        # An HTML (or Markdown) paragraph is NarrativeText or Text by sentence splitting and a
        # verb check: a quarter of a Markdown page's parse time, and Enclave reads both as
        # text. Skipped there only; lists, addresses and e-mail addresses are still told
        # apart, and plain-text files keep the check (it finds their titles).
        html_parser.is_possible_narrative_text = _narrative_unused
        _installed = True


def _narrative_unused(text: str, *args: Any, **kwargs: Any) -> bool:
    """Stand-in for unstructured's narrative-text check inside its HTML partitioner."""
    return False
