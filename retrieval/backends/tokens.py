"""The embedding model's tokenizer as Hugging Face's Rust ``tokenizers`` object, without transformers.

A Hugging Face fast tokenizer is a ``tokenizers.Tokenizer`` plus settings that transformers
applies from ``tokenizer_config.json`` when it loads one. Importing transformers (and torch,
which it imports) took 2.9 s of the 5.2 s an ingest process needs before its first file, on
every run. So the ONNX and OpenVINO embedders load it with transformers once per machine and
model (:func:`save_tokenizer`), keep the Rust tokenizer exactly as transformers configured it
in the model cache beside their exports, and every later process reads that JSON in
milliseconds: the same token ids as transformers' by construction, for any model with a fast
tokenizer (``tests/retrieval/test_tokens.py`` compares them).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

TOKENIZER_VERSION = 2  # bump when what is saved changes: caches are re-made
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                    "vocab.txt", "merges.txt", "vocab.json", "sentencepiece.bpe.model",
                    "spiece.model", "added_tokens.json")


class ModelTokenizer:
    """What Enclave asks of a model's tokenizer: counts, padded batches, character offsets.

    Counting and encoding use their own copies of the Rust tokenizer, each configured once and
    never changed afterwards (padding is done on the encodings), so the chunker may count on
    one thread while a batch is encoded on another (a ``tokenizers`` object whose settings
    change under a concurrent call raises "Already borrowed", as transformers' per-call
    settings do).
    """

    def __init__(self, rust: Tokenizer, pad_id: int, pad_token: str, pad_type_id: int = 0,
                 direction: str = "right") -> None:
        self._spec = rust.to_str()
        self._plain = Tokenizer.from_str(self._spec)
        self._plain.no_padding()
        self._plain.no_truncation()
        self.pad_with = {"pad_id": pad_id, "pad_token": pad_token, "pad_type_id": pad_type_id,
                         "direction": direction}
        self._truncators: dict[int, Tokenizer] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_hf(cls, hf: Any) -> ModelTokenizer:
        """From a transformers fast tokenizer (its Rust tokenizer and its padding token)."""
        if not getattr(hf, "is_fast", False):
            raise RuntimeError("the embedding model has no fast tokenizer (tokenizer.json); "
                               "Enclave needs one to count and split text in its tokens")
        pad_id = hf.pad_token_id if hf.pad_token_id is not None else 0
        return cls(hf.backend_tokenizer, pad_id, hf.pad_token or "[PAD]",
                   int(getattr(hf, "pad_token_type_id", 0) or 0),
                   getattr(hf, "padding_side", "right") or "right")

    @classmethod
    def from_json(cls, text: str) -> ModelTokenizer:
        """From :meth:`to_json`'s output."""
        saved = json.loads(text)
        return cls(Tokenizer.from_str(saved["tokenizer"]), **saved["pad_with"])

    def to_json(self) -> str:
        """The tokenizer and how it pads, as one JSON document."""
        return json.dumps({"tokenizer": self._spec, "pad_with": self.pad_with})

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The Rust tokenizer (no padding or truncation): copy it before changing it."""
        return self._plain

    def count(self, texts: list[str]) -> list[int]:
        """Tokens of each text, special tokens included, never truncated."""
        return [len(e.ids) for e in self._plain.encode_batch(texts, add_special_tokens=True)]

    def batch(self, texts: list[str], max_length: int, multiple: int = 1
              ) -> dict[str, np.ndarray]:
        """Model inputs for ``texts``: :meth:`encode`, then :meth:`pad`."""
        return self.pad(self.encode(texts, max_length), multiple)

    def encode(self, texts: list[str], max_length: int) -> list[Encoding]:
        """Each text's tokens, special tokens included, truncated to ``max_length`` tokens."""
        with self._lock:
            rust = self._truncators.get(max_length)
            if rust is None:  # a copy per length, configured once before any use
                rust = Tokenizer.from_str(self._spec)
                rust.no_padding()
                rust.enable_truncation(max_length)
                self._truncators[max_length] = rust
        return rust.encode_batch(texts, add_special_tokens=True)

    def pad(self, encodings: list[Encoding], multiple: int = 1) -> dict[str, np.ndarray]:
        """Ids, attention mask and token types (int64) of ``encodings``, padded in place.

        To the longest, rounded up to a ``multiple`` of tokens; with ``multiple`` 1 these are
        transformers' ``padding=True, truncation=True`` inputs.
        """
        longest = max((len(e.ids) for e in encodings), default=0)
        length = -(-longest // multiple) * multiple
        for enc in encodings:
            enc.pad(length, **self.pad_with)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of ``text`` (no special tokens)."""
        return list(self._plain.encode(text, add_special_tokens=False).offsets)


def load_hf_tokenizer(path: str) -> Any:
    """A new instance of the Hugging Face tokenizer of the model at ``path`` (local only)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def tokenizer_key(path: Path) -> str:
    """Cache key of a model's saved tokenizer: its tokenizer files and this module's version."""
    digest = hashlib.sha256(f"tokenizer-v{TOKENIZER_VERSION}".encode())
    for name in _TOKENIZER_FILES:
        file = path / name
        if file.exists():
            digest.update(name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def tokenizer_file(model_path: str, cache_dir: Path) -> Path:
    """Where the model's saved tokenizer lives in the model cache."""
    path = Path(model_path)
    return cache_dir / f"{path.name}-tokenizer-{tokenizer_key(path)}.json"


def save_tokenizer(model_path: str, out: Path) -> None:
    """Load the model's tokenizer with transformers and write it to ``out``, atomically."""
    made = ModelTokenizer.from_hf(load_hf_tokenizer(model_path))
    with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=".tmp", delete=False,
                                     encoding="utf-8") as fh:
        fh.write(made.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(fh.name, out)
