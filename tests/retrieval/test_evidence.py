"""The abstention signal (retrieval.evidence): terms, coverage, unknown terms, the decision."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import AbstentionSettings
from retrieval.evidence import can_name_a_thing, content_terms, judge, stems
from retrieval.types import Hit
from tests.conftest import REPO


def _hit(text: str, score: float) -> Hit:
    return Hit(1, 1, "doc.md", "c", None, "", text, score, 0, len(text))


def test_content_terms_drop_function_words_and_stem_unit() -> None:
    assert content_terms("How do I configure the completions of zsh?") == stems(
        ["configure", "completions", "zsh"])
    assert content_terms("Why am I not receiving any messages?") == stems(["receiving", "messages"])
    assert content_terms("the of and") == []


def test_placeholders_are_not_terms_the_documents_lack_unit() -> None:
    """"my C compiler XXX" names no topic: it must not read as a near miss."""
    assert content_terms("Can you support my C compiler XXX?") == stems(["support", "compiler"])
    assert content_terms("Why doesn't FFmpeg support feature [xyz] or foo?") == stems(
        ["ffmpeg", "support", "feature"])
    settings = AbstentionSettings()
    hits = [_hit("FFmpeg is built with GCC or Clang; other C compilers are supported on "
                 "request when they implement C99.", 0.55)]
    vocab = {s: 5 for s in stems(["support", "compiler", "ffmpeg"])}
    counts = lambda terms: ({t: vocab.get(t, 0) for t in terms}, 1000)  # noqa: E731
    evidence = judge("Can you support my C compiler XXX?", hits, counts, settings, 0.2)
    assert evidence.unknown_terms == () and not evidence.abstain
    named = judge("Can you support my C compiler Watcom?", hits, counts, settings, 0.2)
    assert named.unknown_terms == tuple(stems(["watcom"]))  # a real name still counts
    assert named.p_unanswerable > evidence.p_unanswerable + 0.3


def test_only_words_that_can_name_a_thing_are_unknown_unit() -> None:
    """A FAQ that never says "complains" can still answer "the linker complains about ...";
    one that never names "Watcom", "libtool" or "fees" does not answer a question about them."""
    for word in ("watcom", "libtool", "fees", "gateway", "python", "slight", "av2", "uint64"):
        assert can_name_a_thing(word), word  # nouns, unknown names, codes
    for word in ("complains", "devoid", "effortlessly", "financially", "wrote"):
        assert not can_name_a_thing(word), word  # only verbs, adjectives, adverbs
    settings = AbstentionSettings()
    hits = [_hit("When linking FFmpeg's libraries into a C++ program, wrap the headers in "
                 "extern \"C\" so the linker finds the symbols.", 0.52)]
    vocab = {s: 5 for s in stems(["ffmpeg", "c", "application", "linker", "missing",
                                  "symbols", "libraries", "program"])}
    counts = lambda terms: ({t: vocab.get(t, 0) for t in terms}, 1000)  # noqa: E731
    verb = judge("The linker complains about missing symbols from the FFmpeg libraries",
                 hits, counts, settings, 0.2)
    assert verb.unknown_terms == () and not verb.abstain
    noun = judge("The linker in Xcode complains about missing symbols from the FFmpeg "
                 "libraries", hits, counts, settings, 0.2)
    assert noun.unknown_terms == tuple(stems(["xcode"]))
    assert noun.p_unanswerable > verb.p_unanswerable + 0.3


def test_the_lexicon_agrees_with_lemminflect_unit() -> None:
    """The data files read directly give the readings lemminflect's own lookup gives."""
    from lemminflect import getAllLemmas

    from retrieval.evidence import _lexicon

    known, nouns = _lexicon()
    assert len(known) > 60_000 and len(nouns) > 35_000
    sample = sorted(known)[::40] + ["complains", "slight", "all", "zyzzyvas", "watcom"]
    for word in sample:
        readings = getAllLemmas(word)
        assert can_name_a_thing(word) == (not readings or "NOUN" in readings
                                          or "PROPN" in readings), word


def test_the_lexicon_does_not_import_spacy_unit() -> None:
    """Importing lemminflect would import spaCy (73 MB, 0.75 s in a web process)."""
    code = ("import sys; from retrieval import evidence; evidence.warm_up(); "
            "assert not evidence.can_name_a_thing('complains'); "
            "assert 'spacy' not in sys.modules and 'lemminflect' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_unknown_terms_and_coverage_decide_unit() -> None:
    settings = AbstentionSettings()
    hits = [_hit("In zsh, completion for kill lists process ids; the system is compinit.",
                 0.62)]
    vocab = {s: 5 for s in stems(["completion", "kill", "process", "compinit", "zsh", "work"])}
    counts = lambda terms: ({t: vocab.get(t, 0) for t in terms}, 1000)  # noqa: E731
    known = judge("How does zsh completion work for kill?", hits, counts, settings, 0.2)
    assert known.unknown_terms == () and known.coverage > 0.6 and not known.abstain
    near_miss = judge("How do I set up the Powerlevel10k theme in zsh?", hits, counts,
                      settings, 0.2)
    assert "powerlevel10k" in near_miss.unknown_terms and near_miss.abstain
    assert near_miss.p_unanswerable > known.p_unanswerable
    below = judge("How does zsh completion work for kill?", [_hit(hits[0].text, 0.1)], counts,
                  settings, 0.2)
    assert below.abstain  # under the floor whatever the model says
    floor_only = judge("How do I set up the Powerlevel10k theme in zsh?", hits, counts,
                       settings.model_copy(update={"mode": "floor"}), 0.2)
    assert not floor_only.abstain
    assert judge("anything", [], counts, settings, 0.2).abstain  # nothing retrieved


@pytest.mark.integration
def test_term_counts_come_from_the_keyword_index(stack, ingestor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.md").write_text("# Tanks\n\nThe zebrafish tanks are cleaned on Mondays.\n")
    ingestor.ingest_file(tmp_path / "a.md", "c")
    with stack.sessions() as s:
        counts, total = stack.retriever._keyword.term_counts(  # noqa: SLF001
            s, stems(["zebrafish", "tanks", "cleaning", "narwhal"]))
    assert total >= 1
    assert counts.get(stems(["tanks"])[0]) == 1 and counts.get(stems(["cleaning"])[0]) == 1
    assert stems(["narwhal"])[0] not in counts
    evidence = stack.retriever.assess("Where do narwhals live?",
                                      stack.retriever.search("Where do narwhals live?", "c"))
    # "live" is not a thing a collection can lack; "narwhals" is
    assert evidence.unknown_terms == tuple(stems(["narwhals"]))
