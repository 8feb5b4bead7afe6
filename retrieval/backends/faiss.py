"""FAISS vector indexes, one ``IndexIDMap2`` per collection, keyed by catalog chunk id.

Files are written atomically: serialize, write to a temp file, fsync, ``os.replace``, fsync
the folder. A single process-wide lock serialises writers and readers of an index (FAISS
``add``/``remove_ids`` are not safe concurrently with ``search``). ``faiss-gpu`` is used when
``use_gpu`` is set and importable; the on-disk format is the same.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError("FAISS is missing: pip install faiss-cpu (or faiss-gpu)") from exc
    return faiss


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class FaissIndexStore:
    """Per-collection FAISS indexes (inner product over unit vectors = cosine similarity)."""

    def __init__(self, index_dir: Path, dimension: int | Callable[[], int]) -> None:
        """``dimension`` may be a callable, read on first use (the model loads lazily)."""
        self.index_dir = Path(index_dir)
        self._dimension = dimension
        self._indexes: dict[int, Any] = {}
        self._signatures: dict[int, tuple[int, int] | None] = {}
        self._lock = threading.RLock()

    @property
    def dimension(self) -> int:
        """Vector size of every index in this store."""
        if callable(self._dimension):
            self._dimension = int(self._dimension())
        return self._dimension

    def path_for(self, collection_id: int) -> Path:
        """File of a collection's index."""
        return self.index_dir / f"collection-{collection_id}.faiss"

    def _signature(self, collection_id: int) -> tuple[int, int] | None:
        try:
            st = self.path_for(collection_id).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _get(self, collection_id: int) -> Any:
        index = self._indexes.get(collection_id)
        signature = self._signature(collection_id)
        if index is not None and signature != self._signatures.get(collection_id):
            index = None  # another process (CLI ingest, web app) saved a newer file
        if index is None:
            faiss = _faiss()
            path = self.path_for(collection_id)
            self._signatures[collection_id] = signature
            if signature is not None:
                index = faiss.read_index(str(path))
                if index.d != self.dimension:
                    raise RuntimeError(
                        f"{path}: index dimension {index.d} != embedding dimension "
                        f"{self.dimension}; the embedding model changed, re-ingest the collection"
                    )
            else:
                index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
            self._indexes[collection_id] = index
        return index

    def add(self, collection_id: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, d) under chunk ``ids`` (n,)."""
        if len(ids) == 0:
            return
        with self._lock:
            self._get(collection_id).add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def remove(self, collection_id: int, ids: np.ndarray) -> int:
        """Remove chunk ``ids``; returns the number removed."""
        if len(ids) == 0:
            return 0
        with self._lock:
            return int(self._get(collection_id).remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(
        self, collection_id: int, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, ids)`` for one query vector; ids are -1 past the end."""
        with self._lock:
            index = self._get(collection_id)
            if index.ntotal == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            scores, ids = index.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal)
            )
        return scores[0], ids[0]

    def search_filtered(
        self, collection_id: int, query: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among ``allowed`` chunk ids only.

        The filter runs inside FAISS, so a small allowed set among many vectors is still found.
        """
        faiss = _faiss()
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        with self._lock:
            index = self._get(collection_id)
            if index.ntotal == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
            params = faiss.SearchParameters(sel=selector)
            scores, ids = index.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                min(k, len(allowed), index.ntotal),
                params=params,
            )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def vectors(self, collection_id: int, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of chunk ``ids`` (rows of zeros for ids not in the index)."""
        with self._lock:
            index = self._get(collection_id)
            out = np.zeros((len(ids), self.dimension), dtype=np.float32)
            for row, cid in enumerate(ids):
                with contextlib.suppress(RuntimeError):  # not in the index: zeros
                    out[row] = index.reconstruct(int(cid))
            return out

    def ids(self, collection_id: int) -> np.ndarray:
        """All chunk ids stored in a collection's index."""
        with self._lock:
            index = self._get(collection_id)
            faiss = _faiss()
            return faiss.vector_to_array(index.id_map).astype(np.int64)

    def count(self, collection_id: int) -> int:
        """Number of vectors in a collection's index."""
        with self._lock:
            return int(self._get(collection_id).ntotal)

    def save(self, collection_id: int) -> None:
        """Write a collection's index atomically (temp file, fsync, ``os.replace``)."""
        faiss = _faiss()
        with self._lock:
            data = faiss.serialize_index(self._get(collection_id))
            write_bytes_atomically(self.path_for(collection_id), data.tobytes())
            self._signatures[collection_id] = self._signature(collection_id)

    def drop(self, collection_id: int) -> None:
        """Forget a collection's index and delete its file."""
        with self._lock:
            self._indexes.pop(collection_id, None)
            self._signatures.pop(collection_id, None)
            self.path_for(collection_id).unlink(missing_ok=True)

    def reload(self, collection_id: int) -> None:
        """Discard the in-memory copy; the next use reads the file again."""
        with self._lock:
            self._indexes.pop(collection_id, None)
