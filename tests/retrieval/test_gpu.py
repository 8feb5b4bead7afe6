"""GPU paths: run where a CUDA device exists, skipped cleanly elsewhere (CI has no GPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config.settings import ConfigError
from tests.conftest import make_settings


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def test_fp16_is_refused_off_cuda(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        make_settings(tmp_path, embedding={"half": True})


def test_the_gpu_profile_loads(tmp_path: Path) -> None:
    from config.settings import load_settings

    s = load_settings(profile="gpu", overrides={"data_dir": str(tmp_path)})
    assert (s.embedding.device, s.embedding.half, s.generation.backend) == ("cuda", True, "openai")


@pytest.mark.skipif(not _cuda(), reason="no CUDA device on this machine")
def test_fp16_cuda_embeddings_match_the_cpu(tmp_path: Path) -> None:
    from retrieval.backends.sentence_transformers import SentenceTransformersEmbedder

    texts = ["How many vacation days do new employees get?",
             "Expense reports are due within 30 days of travel."]
    cpu = SentenceTransformersEmbedder(make_settings(
        tmp_path, embedding={"backend": "sentence-transformers"}).embedding)
    gpu = SentenceTransformersEmbedder(make_settings(
        tmp_path, embedding={"backend": "sentence-transformers", "device": "cuda",
                             "half": True}).embedding)
    a, b = cpu.embed_documents(texts), gpu.embed_documents(texts)
    assert b.dtype == np.float32 and a.shape == b.shape
    assert np.all(np.sum(a * b, axis=1) > 0.999)


@pytest.mark.skipif(not _cuda(), reason="no CUDA device on this machine")
def test_faiss_gpu_returns_the_cpu_results() -> None:
    faiss = pytest.importorskip("faiss")
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        pytest.skip("faiss-cpu installed (pip install -r requirements-gpu.txt for faiss-gpu)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 384)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cpu = faiss.IndexFlatIP(384)
    cpu.add(x)
    gpu = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, cpu)
    q = x[:50]
    _, i_cpu = cpu.search(q, 10)
    _, i_gpu = gpu.search(q, 10)
    assert (i_cpu == i_gpu).mean() > 0.99


def test_the_gpu_option_falls_back_to_the_cpu_without_a_gpu(tmp_path: Path) -> None:
    from retrieval.backends.faiss import FaissIndexStore

    faiss = pytest.importorskip("faiss")
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        pytest.skip("a GPU is present: the next test covers it")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 16)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store = FaissIndexStore(tmp_path, dimension=16, gpu=True)
    store.add(1, np.arange(100, dtype=np.int64), x)
    assert store.search(1, x[5], 1)[1].tolist() == [5]


@pytest.mark.skipif(not _cuda(), reason="no CUDA device on this machine")
def test_the_store_searches_a_gpu_copy_with_the_cpu_results(tmp_path: Path) -> None:
    from retrieval.backends.faiss import FaissIndexStore

    faiss = pytest.importorskip("faiss")
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        pytest.skip("faiss-cpu installed (pip install -r requirements-gpu.txt for faiss-gpu)")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5000, 384)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(5000, dtype=np.int64)
    cpu = FaissIndexStore(tmp_path / "cpu", dimension=384)
    gpu = FaissIndexStore(tmp_path / "gpu", dimension=384, gpu=True)
    for store in (cpu, gpu):
        store.add(1, ids, x)
    for q in x[:20]:
        assert gpu.search(1, q, 10)[1].tolist() == cpu.search(1, q, 10)[1].tolist()
    gpu.remove(1, np.array([7]))  # the GPU copy follows changes
    assert 7 not in gpu.search(1, x[7], 10)[1].tolist()
