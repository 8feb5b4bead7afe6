"""Tiny synthetic GGUF files for the unit tests (a metadata header, no tensors)."""

from __future__ import annotations

import struct
from pathlib import Path


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, metadata: dict[str, str | int], *, vocabulary: int = 3) -> Path:
    """A GGUF v3 header with ``metadata`` (strings and uint32s) after an array of strings
    (a stand-in for the tokenizer's vocabulary, which readers must skip)."""
    entries = [_string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, vocabulary)
               + b"".join(_string(f"tok{i}") for i in range(vocabulary)),
               _string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2)
               + struct.pack("<ff", 0.5, 0.25)]
    for key, value in metadata.items():
        if isinstance(value, int):
            entries.append(_string(key) + struct.pack("<II", 4, value))
        else:
            entries.append(_string(key) + struct.pack("<I", 8) + _string(value))
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, len(entries))
    path.write_bytes(header + b"".join(entries) + b"\0" * 64)
    return path
