"""FAISS vector indexes, one per collection, keyed by catalog chunk id.

A collection starts as an exact ``IndexIDMap2(IndexFlatIP)``. :meth:`FaissIndexStore.rebuild`
turns it into the structure the settings name (``retrieval.index``): inverted lists (IVF,
with an id hash table so vectors can still be reconstructed and removed) for large
collections, searched with ``nprobe`` lists per query. Access filters run inside FAISS as a
bitmap ID selector.

Files are written atomically: serialize, write to a temp file, fsync, ``os.replace``, fsync
the folder. Each save publishes a new snapshot (a new inode under the same name); every
process notices a newer snapshot by the file's (inode, mtime, size) and switches to it before
its next use, while a reader still mapping the old one keeps it until then. With ``mmap``
readers map snapshots instead of loading them, so N web processes share one copy in the page
cache; a write loads a private copy, saves the next snapshot and drops the copy. A single
process-wide lock serialises writers and readers of an index (FAISS ``add``/``remove_ids``
are not safe concurrently with ``search``). With ``gpu`` (faiss-gpu and a CUDA device),
unfiltered searches run on a GPU copy of the current snapshot; the on-disk format is the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.types import ChunkSet

log = logging.getLogger(__name__)


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

    def __init__(self, index_dir: Path, dimension: int | Callable[[], int], nprobe: int = 1024,
                 mmap: bool = False, gpu: bool = False) -> None:
        """``dimension`` may be a callable, read on first use (the model loads lazily).

        ``mmap``: searches map the snapshot file read-only instead of loading it. ``gpu``:
        unfiltered searches on a GPU copy (when faiss-gpu finds a device).
        """
        self.index_dir = Path(index_dir)
        self._dimension = dimension
        self.nprobe = nprobe
        self.mmap = mmap
        self._gpu = _gpu_resources() if gpu else None
        # collection -> (cpu index, its change count, gpu copy)
        self._gpu_copies: dict[int, tuple[Any, int, Any]] = {}
        self._changes: dict[int, int] = {}  # in-memory adds/removes per collection
        self._indexes: dict[int, Any] = {}
        self._signatures: dict[int, tuple[int, int, int] | None] = {}
        self._mapped: set[int] = set()  # collections whose in-memory index is a read-only map
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

    def _signature(self, collection_id: int) -> tuple[int, int, int] | None:
        """Which snapshot the file is: a save replaces the inode, so equal means unchanged."""
        try:
            st = self.path_for(collection_id).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _get(self, collection_id: int, writable: bool = False) -> Any:
        """The collection's index as of the newest snapshot; ``writable`` for add/remove."""
        index = self._indexes.get(collection_id)
        signature = self._signature(collection_id)
        if index is not None and (signature != self._signatures.get(collection_id)
                                  or (writable and collection_id in self._mapped)):
            index = None  # another process saved a newer snapshot, or a map cannot change
        if index is None:
            faiss = _faiss()
            path = self.path_for(collection_id)
            self._signatures[collection_id] = signature
            self._mapped.discard(collection_id)
            if signature is not None:
                if self.mmap and not writable:
                    index = faiss.read_index(str(path), _mmap_flags(path))
                    self._mapped.add(collection_id)
                else:
                    index = faiss.read_index(str(path))
                _tune(index)
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
            self._changes[collection_id] = self._changes.get(collection_id, 0) + 1
            self._get(collection_id, writable=True).add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def remove(self, collection_id: int, ids: np.ndarray) -> int:
        """Remove chunk ``ids``; returns the number removed."""
        if len(ids) == 0:
            return 0
        with self._lock:
            self._changes[collection_id] = self._changes.get(collection_id, 0) + 1
            return int(self._get(collection_id, writable=True)
                       .remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(
        self, collection_id: int, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, ids)`` for one query vector; ids are -1 past the end."""
        with self._lock:
            index = self._get(collection_id)
            if index.ntotal == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            searcher = self._on_gpu(collection_id, index) if self._gpu is not None else index
            scores, ids = searcher.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                min(k, index.ntotal),
                params=self._params(index) if searcher is index else None,
            )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _on_gpu(self, collection_id: int, index: Any) -> Any:
        """The GPU copy of ``index`` (the current snapshot or unsaved state), made on demand."""
        changes = self._changes.get(collection_id, 0)
        held = self._gpu_copies.get(collection_id)
        if held is not None and held[0] is index and held[1] == changes:
            return held[2]
        faiss = _faiss()
        copy = faiss.index_cpu_to_gpu(self._gpu, 0, index)
        if isinstance(index, faiss.IndexIVF):
            faiss.GpuParameterSpace().set_index_parameter(copy, "nprobe", min(self.nprobe, 2048))
        self._gpu_copies[collection_id] = (index, changes, copy)
        return copy

    def _params(self, index: Any, selector: Any = None) -> Any:
        """Search parameters: the ID selector, and ``nprobe`` for inverted-list indexes."""
        faiss = _faiss()
        if isinstance(index, faiss.IndexIVF):
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.nprobe)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def search_filtered(
        self, collection_id: int, query: np.ndarray, k: int, allowed: ChunkSet | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among ``allowed`` chunk ids only.

        The filter runs inside FAISS (a bitmap test per scanned vector), so a small allowed
        set among many vectors is still found.
        """
        faiss = _faiss()
        if not isinstance(allowed, ChunkSet):
            allowed = ChunkSet.of(allowed)
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        bitmap = allowed.bitmap
        with self._lock:
            index = self._get(collection_id)
            if index.ntotal == 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            scores, ids = index.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                min(k, len(allowed), index.ntotal),
                params=self._params(index, selector),
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
            return _stored_ids(self._get(collection_id))

    def structure(self, collection_id: int) -> str:
        """What a collection's index is: ``Flat`` or ``IVF<lists>,<encoding>``."""
        with self._lock:
            return _describe(self._get(collection_id))

    def rebuild(self, collection_id: int, factory: str, *, train_size: int = 100_000,
                progress: Callable[[str], None] | None = None) -> str:
        """Rebuild a collection's index as ``factory`` from its stored vectors; save atomically.

        ``factory`` is ``Flat`` or a FAISS IVF factory string (``IVF4096,SQ8``). The new index
        is trained on up to ``train_size`` stored vectors, filled, then written with the same
        temp-file, fsync and ``os.replace`` as every save: a crash at any point leaves the old
        file or the new one. The caller holds the writer lock. Returns the new structure.
        """
        faiss = _faiss()
        say = progress or (lambda _msg: None)
        with self._lock:
            old = self._get(collection_id)
            ids = _stored_ids(old)
            say(f"reading {len(ids)} vectors ({_describe(old)})")
            vectors = _stored_vectors(old, ids, self.dimension)
        if factory == "Flat":
            new = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        else:
            new = faiss.index_factory(self.dimension, factory, faiss.METRIC_INNER_PRODUCT)
            if not isinstance(new, faiss.IndexIVF):
                raise ValueError(f"{factory!r} is not Flat or an IVF index")
            nlist = new.nlist
            if len(ids) < nlist:
                raise ValueError(f"{factory!r} needs at least {nlist} vectors to train, "
                                 f"the collection has {len(ids)}")
            rng = np.random.default_rng(0)
            sample = vectors[np.sort(rng.choice(len(ids), min(train_size, len(ids)),
                                                replace=False))]
            say(f"training {factory} on {len(sample)} vectors")
            new.train(sample)
            new.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
            _tune(new)
        step = 100_000
        for start in range(0, len(ids), step):
            new.add_with_ids(vectors[start:start + step], ids[start:start + step])
            say(f"added {min(start + step, len(ids))}/{len(ids)}")
        with self._lock:
            if self._get(collection_id) is not old:
                raise RuntimeError("the index changed during the rebuild; run it again")
            write_bytes_atomically(self.path_for(collection_id),
                                   faiss.serialize_index(new).tobytes())
            self._indexes[collection_id] = new
            self._mapped.discard(collection_id)
            self._signatures[collection_id] = self._signature(collection_id)
            if self.mmap:
                self._indexes.pop(collection_id, None)
        return _describe(new)

    def count(self, collection_id: int) -> int:
        """Number of vectors in a collection's index."""
        with self._lock:
            return int(self._get(collection_id).ntotal)

    def save(self, collection_id: int) -> None:
        """Write a collection's index atomically (temp file, fsync, ``os.replace``)."""
        faiss = _faiss()
        with self._lock:  # a mapped index serialises as a reference to its file: never save one
            data = faiss.serialize_index(self._get(collection_id, writable=True))
            write_bytes_atomically(self.path_for(collection_id), data.tobytes())
            self._signatures[collection_id] = self._signature(collection_id)
            if self.mmap:  # readers map the new snapshot; the private copy goes
                self._indexes.pop(collection_id, None)

    def drop(self, collection_id: int) -> None:
        """Forget a collection's index and delete its file."""
        with self._lock:
            self._indexes.pop(collection_id, None)
            self._signatures.pop(collection_id, None)
            self._mapped.discard(collection_id)
            self.path_for(collection_id).unlink(missing_ok=True)

    def remove_temp_files(self) -> list[Path]:
        """Delete temp files a killed save left behind (call under the writer lock)."""
        removed = []
        for path in self.index_dir.glob(".collection-*.faiss.*.tmp"):
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    def reload(self, collection_id: int) -> None:
        """Discard the in-memory copy; the next use reads the file again."""
        with self._lock:
            self._indexes.pop(collection_id, None)


def _gpu_resources() -> Any:
    """FAISS GPU resources for device 0, or None (with a log line) without faiss-gpu or a GPU."""
    faiss = _faiss()
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        log.warning("retrieval.index.gpu is set but FAISS sees no GPU (faiss-cpu installed, or "
                    "no CUDA device): searching on the CPU")
        return None
    return faiss.StandardGpuResources()


def _mmap_flags(path: Path) -> int:
    """``read_index`` flags that map ``path`` read-only instead of loading it.

    An ``IndexIDMap2`` over a flat index maps its vectors (``IO_FLAG_MMAP_IFC``); an IVF index
    maps its inverted lists (``IO_FLAG_MMAP``, on-disk lists). Writing to either throws: the
    store loads a private copy for writes.
    """
    faiss = _faiss()
    with open(path, "rb") as fh:
        fourcc = fh.read(4)
    if fourcc == b"IxM2":
        return int(faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    return int(faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)


def _stored_ids(index: Any) -> np.ndarray:
    """Every id in an ``IndexIDMap2`` or an IVF index."""
    faiss = _faiss()
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(index.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def _stored_vectors(index: Any, ids: np.ndarray, dimension: int) -> np.ndarray:
    """The vectors of ``ids`` (all stored in ``index``) as one float32 matrix."""
    faiss = _faiss()
    if len(ids) == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    if isinstance(index, faiss.IndexIVF):
        return index.reconstruct_batch(ids)
    return index.index.reconstruct_n(0, index.ntotal)  # IDMap2: rows in id_map order


def _describe(index: Any) -> str:
    faiss = _faiss()
    if isinstance(index, faiss.IndexIVF):
        code = "SQ8" if isinstance(index, faiss.IndexIVFScalarQuantizer) else (
            "Flat" if isinstance(index, faiss.IndexIVFFlat) else type(index).__name__)
        return f"IVF{index.nlist},{code}"
    return "Flat"


def _tune(index: Any) -> None:
    """Search one query's inverted lists on every core.

    FAISS parallelises over queries by default, which leaves all but one core idle for a
    single question: 11.5 -> 6.7 ms median at nprobe 1024 of 4096 lists, a million chunks,
    2 cores, the index alone (bench/scale.py).
    """
    if isinstance(index, _faiss().IndexIVF):
        index.parallel_mode = 1
