"""Read the metadata header of a GGUF file (``general.license``, ``general.name`` ...).

Only the key/value section at the start of the file is read, so this is fast on a 1 GB
model and needs neither llama.cpp nor the ``gguf`` package. Format: magic ``GGUF``, version
(2 or 3), tensor count, key/value count, then each key (length-prefixed UTF-8) with a typed
value; arrays (the tokenizer's vocabulary) are skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

MetadataValue = str | int | float | bool

_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
                            7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


def _read(f: BinaryIO, fmt: str) -> int | float | bool:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("the file ends inside its metadata header")
    return struct.unpack(fmt, data)[0]  # type: ignore[no-any-return]


def _string(f: BinaryIO) -> str:
    length = int(_read(f, "<Q"))
    data = f.read(length)
    if len(data) != length:
        raise GGUFError("the file ends inside its metadata header")
    return data.decode("utf-8", errors="replace")


def _value(f: BinaryIO, kind: int) -> MetadataValue | None:
    """Read one value; arrays are skipped (None)."""
    if kind == _STRING:
        return _string(f)
    if kind in _SCALARS:
        return _read(f, _SCALARS[kind])
    if kind == _ARRAY:
        item, count = int(_read(f, "<I")), int(_read(f, "<Q"))
        if item in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[item]) * count, 1)
        else:
            for _ in range(count):
                _value(f, item)
        return None
    raise GGUFError(f"unknown metadata value type {kind}")


def read_metadata(path: str | Path, keys: Collection[str] | None = None
                  ) -> dict[str, MetadataValue]:
    """The scalar and string metadata of a GGUF file (only ``keys`` when given).

    Raises :class:`GGUFError` for a file that is not GGUF (version 2 or 3).
    """
    wanted = set(keys) if keys is not None else None
    found: dict[str, MetadataValue] = {}
    with Path(path).open("rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{Path(path).name} is not a GGUF file")
        version = _read(f, "<I")
        if version not in (2, 3):
            raise GGUFError(f"GGUF version {version} is not supported (2 or 3)")
        _read(f, "<Q")  # tensor count
        for _ in range(int(_read(f, "<Q"))):
            key = _string(f)
            value = _value(f, int(_read(f, "<I")))
            if value is not None and (wanted is None or key in wanted):
                found[key] = value
                if wanted is not None and wanted <= found.keys():
                    break
    return found
