"""The llamacpp backend for real (the bundled GGUF): closing its stream stops generation.

llama.cpp evaluates one token per piece read, so the tokens in its context after a close
show how far generation went: a few past the prompt, not ``max_tokens``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from generation.events import TokenEvent
from tests.conftest import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_TOKENS = 200
_KEPT: list[object] = []
STORY = [{"role": "user", "content": "Write a long story about a cat who travels the world."}]


def test_closing_the_stream_stops_the_model(tmp_path: Path) -> None:
    from generation.stack import build_generator

    generator = build_generator(make_settings(tmp_path))
    model = generator._model()  # type: ignore[attr-defined]
    stream = generator.stream(STORY, MAX_TOKENS, 0.1)
    pieces = [next(stream) for _ in range(3)]
    assert all(pieces)
    evaluated = model.n_tokens
    t0 = time.perf_counter()
    stream.close()
    assert time.perf_counter() - t0 < 0.5  # no token is computed on the way out
    time.sleep(0.5)
    assert model.n_tokens == evaluated  # nothing ran after the close
    # the model is free at once: the next request does not wait for the stopped one
    assert generator._lock.acquire(blocking=False)  # type: ignore[attr-defined]
    generator._lock.release()  # type: ignore[attr-defined]

    whole = list(generator.stream(STORY, MAX_TOKENS, 0.1))
    assert len(whole) > 3 * len(pieces)  # the story goes on when it is not stopped
    assert model.n_tokens - evaluated > 2 * len(pieces)


def test_a_stopped_answer_ends_the_generation_loop(handbook_dir: Path) -> None:
    """The answerer's stream closed after three pieces: the model wrote nothing more."""
    from generation.stack import build_answerer
    from retrieval.stack import build_retrieval

    settings = make_settings(handbook_dir, generation={"mode": "generative",
                                                       "max_sentences": 0})
    stack = build_retrieval(settings)
    try:
        answerer = build_answerer(settings, stack.retriever)
        model = answerer.generator._model()  # type: ignore[attr-defined]
        events = answerer.stream("What is the daily meal allowance?", "handbook")
        tokens = 0
        for event in events:
            tokens += isinstance(event, TokenEvent)
            if tokens == 3:
                break
        evaluated = model.n_tokens
        events.close()
        time.sleep(0.3)
        assert model.n_tokens == evaluated
        assert answerer.generator._lock.acquire(blocking=False)  # type: ignore[attr-defined]
        answerer.generator._lock.release()  # type: ignore[attr-defined]
        # and the next question is answered as usual
        assert not answerer.ask("What is the daily meal allowance?", "handbook").abstained
    finally:
        stack.close()


def test_weights_are_not_repacked_for_amx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where llama.cpp reports AMX, models load without its extra buffer types (decoding with
    weights repacked for AMX crashed the process); elsewhere as llama.cpp defaults. The real
    bundled model is loaded and answers; llama.cpp's own defaults are left as they were."""
    import llama_cpp
    import llama_cpp.llama_cpp as low

    from generation import convert
    from generation.backends import llamacpp
    from generation.stack import build_generator

    assert not llamacpp.use_extra_buffers(frozenset({"AVX2", "AMX_INT8"}))
    assert llamacpp.use_extra_buffers(frozenset({"AVX2", "AVX512_BF16"}))
    seen: list[bool] = []

    class RecordingLlama(llama_cpp.Llama):  # the real model, its load parameters recorded
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(bool(low.llama_model_default_params().use_extra_bufts))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(llama_cpp, "Llama", RecordingLlama)
    amx_here = "AMX_INT8" in convert.cpu_features()
    cases = [(frozenset({"AMX_INT8"}), False)] + ([] if amx_here else [(frozenset(), True)])
    for features, expected in cases:  # (repacking on would crash on an AMX CPU: not run)
        monkeypatch.setattr(llamacpp, "cpu_features", lambda f=features: f)
        monkeypatch.setattr(llamacpp, "_MODELS", {})
        generator = build_generator(make_settings(tmp_path / str(expected),
                                                  generation={"convert_models": False}))
        assert "".join(generator.stream([{"role": "user", "content": "Say hello."}], 4, 0.1))
        assert seen[-1] is expected
        # Kept for the life of the process, as the backend keeps every model it loads: a
        # Llama collected mid-process can free its model before its context (a crash).
        _KEPT.append(generator)
    assert low.llama_model_default_params().use_extra_bufts  # restored after each load
