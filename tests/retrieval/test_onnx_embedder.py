"""The ONNX Runtime embedder: the same model as sentence-transformers, exported locally once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder
from retrieval.backends.sentence_transformers import SentenceTransformersEmbedder

pytestmark = pytest.mark.integration

TEXTS = [
    "What is the daily meal allowance on business trips?",
    "The daily meal allowance is EUR 45 for domestic trips and EUR 60 for international trips.",
    "zsh completion: compinit loads the completion system; compdef binds a function.",
    "x" * 3000,  # longer than the window: truncated the same way by both
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformersEmbedder(EmbeddingSettings()).embed_documents(TEXTS)


@pytest.mark.parametrize(("quantize", "floor"), [(False, 0.999), (True, 0.97)])
def test_onnx_vectors_match_pytorch(torch_vectors, quantize: bool, floor: float) -> None:  # type: ignore[no-untyped-def]
    from config import load_settings

    cache = load_settings().models_dir  # the shared cache: exported once per machine
    emb = OnnxEmbedder(EmbeddingSettings(backend="onnx-int8" if quantize else "onnx"), cache,
                       quantize)
    vectors = emb.embed_documents(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= floor, cosines
    assert emb.count_tokens(TEXTS[0]) == SentenceTransformersEmbedder(
        EmbeddingSettings()).count_tokens(TEXTS[0])
    assert emb.embed_queries([TEXTS[0]]).shape == (1, emb.dimension)


def test_export_is_cached_and_reused(tmp_path: Path) -> None:
    first = OnnxEmbedder(EmbeddingSettings(backend="onnx"), tmp_path, quantize=False)
    path = first.onnx_file
    stamp = path.stat().st_mtime_ns
    second = OnnxEmbedder(EmbeddingSettings(backend="onnx"), tmp_path, quantize=False)
    assert second.onnx_file == path and path.stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob("*.tmp*")) and len(list(tmp_path.glob("*.onnx"))) == 1


def test_counting_tokens_while_a_batch_is_embedded() -> None:
    """The chunker counts tokens on the prefetch thread while a batch embeds: no
    'Already borrowed' (a fast tokenizer used by two threads at once)."""
    from config import load_settings

    emb = OnnxEmbedder(EmbeddingSettings(), load_settings().models_dir, quantize=True)
    errors: list[BaseException] = []

    def count() -> None:
        try:
            for _ in range(300):
                emb.count_tokens(TEXTS[1] * 3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=count)
    thread.start()
    for _ in range(5):
        emb.embed_documents(TEXTS * 8)
    thread.join()
    assert not errors, errors


def test_batches_are_formed_by_token_count() -> None:
    """Texts go into batches by their number of tokens, not characters: code is many tokens
    per character, and batching it with prose of the same length was a third padding."""
    from config import load_settings

    emb = OnnxEmbedder(EmbeddingSettings(batch_size=2, threads=1), load_settings().models_dir,
                       quantize=True)
    prose = ["word " * 20, "term " * 19]  # ~100 characters, ~21 tokens each
    code = ["a.b(c)[d];" * 5, "x.y(z)[w];" * 5]  # ~50 characters, ~40 tokens each
    shapes: list[tuple[int, int]] = []
    run = emb._run

    def recorded(feed):  # type: ignore[no-untyped-def]
        shapes.append(feed["input_ids"].shape)
        assert feed["attention_mask"].sum(axis=1).min() >= feed["input_ids"].shape[1] - 2
        return run(feed)

    emb._run = recorded  # type: ignore[method-assign]
    vectors = emb.embed_documents([prose[0], code[0], prose[1], code[1]])
    assert len(shapes) == 2 and shapes[0][1] > shapes[1][1]  # the code together, first
    alone = OnnxEmbedder(EmbeddingSettings(), load_settings().models_dir, quantize=True)
    assert np.allclose(vectors[1], alone.embed_documents([code[0]])[0], atol=0.05)


@pytest.mark.parametrize("backend", ["onnx-int8", "openvino-int8"])
def test_batches_run_side_by_side_on_single_thread_lanes(backend: str) -> None:
    """``embedding.threads`` lanes each run a batch on one thread, at the same time: one batch
    on every thread slowed 2.4x when another thread took a core (ingest parses meanwhile).
    The vectors are those of one lane (the same batches)."""
    from config import load_settings
    from retrieval.backends.openvino import OpenVinoInt8Embedder, openvino_available

    if backend == "openvino-int8" and not openvino_available():
        pytest.skip("OpenVINO is not installed")
    texts = [f"passage {i}: " + "the allowance for meals on trips " * (1 + i % 7)
             for i in range(40)]
    vectors, embedders = {}, {}
    for lanes in (1, 2):
        settings = EmbeddingSettings(backend=backend, threads=lanes, batch_size=4)
        emb = (OpenVinoInt8Embedder(settings, load_settings().models_dir)
               if backend == "openvino-int8"
               else OnnxEmbedder(settings, load_settings().models_dir, quantize=True))
        assert emb.lanes == lanes
        embedders[lanes] = emb
        counter = _Concurrency(emb._run_on)
        emb._run_on = counter  # type: ignore[method-assign]
        vectors[lanes] = emb.embed_documents(texts)
        assert counter.most == lanes
    assert np.allclose(vectors[1], vectors[2], atol=1e-6)
    # A call of one batch (a question) runs on every thread instead, to the same vectors.
    alone: list[int] = []
    run_alone = emb._run_alone

    def recorded(feed):  # type: ignore[no-untyped-def]
        alone.append(len(feed["input_ids"]))
        return run_alone(feed)

    emb._run_alone = recorded  # type: ignore[method-assign]
    assert np.allclose(emb.embed_documents(texts[:3]), embedders[1].embed_documents(texts[:3]),
                       atol=1e-5)
    assert alone == [3]


class _Concurrency:
    """Wraps ``_run_on``: the most runs seen at the same time."""

    def __init__(self, run_on):  # type: ignore[no-untyped-def]
        self.run_on, self.running, self.most = run_on, 0, 0
        self.guard = threading.Lock()

    def __call__(self, lane, feed):  # type: ignore[no-untyped-def]
        with self.guard:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.01)  # long enough for another lane to start
        try:
            return self.run_on(lane, feed)
        finally:
            with self.guard:
                self.running -= 1


def test_an_error_on_a_helper_lane_reaches_the_caller() -> None:
    from config import load_settings

    emb = OnnxEmbedder(EmbeddingSettings(threads=2, batch_size=1), load_settings().models_dir,
                       quantize=True)
    main = threading.get_ident()
    run_on = emb._run_on

    def failing(lane, feed):  # type: ignore[no-untyped-def]
        if threading.get_ident() != main:
            raise RuntimeError("lane failed")
        time.sleep(0.05)
        return run_on(lane, feed)

    emb._run_on = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="lane failed"):
        emb.embed_documents(TEXTS * 4)
    emb._run_on = run_on  # type: ignore[method-assign]
    assert emb.embed_documents(TEXTS).shape == (len(TEXTS), emb.dimension)  # lanes all back
