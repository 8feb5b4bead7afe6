"""The model's tokenizer read from the model cache: transformers' token ids, without transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder
from retrieval.backends.sentence_transformers import bundled_embedding_model_path
from retrieval.backends.tokens import ModelTokenizer, load_hf_tokenizer, tokenizer_key

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "What is the daily meal allowance on business trips?",
    "",
    " ",
    "naïve café Ünïcödé — “quotes” 日本語のテキスト 😀 \u200b\t tab",
    "a\u0301b [PAD] [CLS] [SEP] [UNK] [MASK]",
    "def handle(event):\n    # retry the upload twice\n    return upload(event, retries=2)",
    "curl --cacert ca-bundle.crt https://example.org/ && os.path.join('a', 'b')",
    "x" * 3000,  # longer than the window
    "word " * 400,
]


def cached_tokenizer(cache: Path) -> ModelTokenizer:
    """The tokenizer a new ONNX embedder reads from (or first saves into) ``cache``."""
    return OnnxEmbedder(EmbeddingSettings(), cache, quantize=True).tokenizer


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, ModelTokenizer]:
    path = bundled_embedding_model_path()
    cache = tmp_path_factory.mktemp("models")
    cached_tokenizer(cache)  # made with transformers, saved
    return load_hf_tokenizer(path), cached_tokenizer(cache)  # read back


def test_saved_tokenizer_gives_transformers_ids(pair) -> None:  # type: ignore[no-untyped-def]
    hf, ours = pair
    for max_length in (128, 256):
        expected = hf(TEXTS, padding=True, truncation=True, max_length=max_length,
                      return_tensors="np")
        got = ours.batch(TEXTS, max_length)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert got[name].dtype == np.int64
            assert np.array_equal(got[name], expected[name]), name
    assert got["input_ids"].shape == (len(TEXTS), 256)  # the long ones are cut to the window
    counts = [len(ids) for ids in hf(TEXTS, truncation=False, verbose=False)["input_ids"]]
    assert ours.count(TEXTS) == counts and max(counts) > 256  # counts are never truncated
    for text in TEXTS:
        offsets = hf(text, add_special_tokens=False, return_offsets_mapping=True,
                     truncation=False, verbose=False)["offset_mapping"]
        assert ours.offsets(text) == [tuple(o) for o in offsets]


def test_made_once_then_read(tmp_path: Path) -> None:
    first = cached_tokenizer(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json")
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    saved = tmp_path / files[0]
    stamp = saved.stat().st_mtime_ns
    second = cached_tokenizer(tmp_path)
    assert saved.stat().st_mtime_ns == stamp
    assert json.loads(saved.read_text())["pad_with"] == {
        "pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0, "direction": "right"}
    assert second.count(TEXTS) == first.count(TEXTS)


def test_key_follows_the_tokenizer_files(tmp_path: Path) -> None:
    model = Path(bundled_embedding_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(model / name, tmp_path / name)
    before = tokenizer_key(tmp_path)
    assert before == tokenizer_key(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["do_lower_case"] = not config.get("do_lower_case", True)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    assert tokenizer_key(tmp_path) != before


def test_an_onnx_process_imports_neither_transformers_nor_torch(tmp_path: Path) -> None:
    """Once the model cache holds the export and the tokenizer, a process that embeds and
    counts tokens loads neither (2.9 s and ~200 MiB of every ingest run before)."""
    from config import load_settings
    from config.settings import EmbeddingSettings
    from retrieval.backends.onnx import OnnxEmbedder

    cache = load_settings().models_dir
    OnnxEmbedder(EmbeddingSettings(backend="onnx-int8"), cache, quantize=True).warm_up()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from config.settings import EmbeddingSettings\n"
        "from retrieval.backends.onnx import OnnxEmbedder\n"
        f"emb = OnnxEmbedder(EmbeddingSettings(backend='onnx-int8'), Path({str(cache)!r}), "
        "quantize=True)\n"
        "assert emb.embed_documents(['a passage', 'another one']).shape == (2, 384)\n"
        "assert emb.count_tokens('a passage') == 4\n"
        "print(sorted(m for m in ('transformers', 'torch', 'sentence_transformers') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
