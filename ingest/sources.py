"""Where synced files come from: the :class:`Source` interface and local folders.

A source lists its files as :class:`Entry` records (document name, size, modification time),
hashes one on demand, opens one, and says whether a file can be read in place. A folder (a
local path, or an NFS/SMB mount) reads in place; a WebDAV or S3-compatible source would
return ``None`` from :meth:`Source.local_path` and the sync copies the file through
:meth:`Source.open` into the uploads directory, as an upload's stored original.

The folder walk skips hidden files and folders (names starting with a dot, as
:func:`ingest.pipeline.expand_paths` does), does not descend into symlinked folders, keeps a
symlinked file only when it resolves inside the folder, and lists regular files only (a FIFO
would block the reader).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ingest.pipeline import sha256_file

MAX_NAME_CHARS = 255  # documents.name


@dataclass(frozen=True, slots=True)
class Entry:
    """A file of a source: its document name (``a/b.pdf``), size and modification time."""

    name: str
    size: int
    mtime_ns: int


class Source(Protocol):
    """What a sync needs of a place files come from."""

    kind: str

    def describe(self) -> str:
        """Where it is, for people (a path or a URL without credentials)."""
        ...

    def entries(self) -> list[Entry]:
        """Every file, sorted by name; raises OSError when the source cannot be read."""
        ...

    def content_hash(self, entry: Entry) -> str:
        """Hex SHA-256 of the file's content (read on demand: it may be slow)."""
        ...

    def open(self, entry: Entry) -> BinaryIO:
        """The file's content, for reading."""
        ...

    def local_path(self, entry: Entry) -> Path | None:
        """A path the ingest job can read the file at, or None to copy it via :meth:`open`."""
        ...


class FolderSource:
    """A local folder (or a mounted network share), walked recursively."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real = root.resolve()

    def describe(self) -> str:
        """The folder's path."""
        return str(self.root)

    def entries(self) -> list[Entry]:
        """Regular files under the folder, hidden ones and symlink escapes left out."""
        if not self._real.is_dir():
            raise FileNotFoundError(f"{self.root} is not a readable folder")
        found: list[Entry] = []

        def fail(exc: OSError) -> None:
            raise exc  # an unreadable subfolder must not look like deleted files

        for dirpath, dirnames, filenames in os.walk(self._real, onerror=fail):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in filenames:
                if filename.startswith("."):
                    continue
                path = Path(dirpath) / filename
                real = self._inside(path)
                if real is None:
                    continue
                try:
                    info = real.stat()
                except OSError:
                    continue  # gone meanwhile, or a dangling link
                if not stat.S_ISREG(info.st_mode):
                    continue
                name = path.relative_to(self._real).as_posix()
                if len(name) > MAX_NAME_CHARS:
                    continue
                found.append(Entry(name, info.st_size, info.st_mtime_ns))
        return sorted(found, key=lambda e: e.name)

    def _inside(self, path: Path) -> Path | None:
        """The file's real path when it lies inside the folder (symlinks resolved), else None."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        return real if real.is_relative_to(self._real) else None

    def _path(self, entry: Entry) -> Path:
        real = self._inside(self._real / entry.name)
        if real is None:
            raise FileNotFoundError(f"{entry.name} is no longer inside {self.root}")
        return real

    def content_hash(self, entry: Entry) -> str:
        """Hex SHA-256 of the file."""
        return sha256_file(self._path(entry))

    def open(self, entry: Entry) -> BinaryIO:
        """The file, opened for reading."""
        return open(self._path(entry), "rb")

    def local_path(self, entry: Entry) -> Path | None:
        """The file's real path (checked to lie inside the folder)."""
        return self._path(entry)


def open_source(kind: str, location: str) -> Source:
    """The :class:`Source` of a ``sources`` row."""
    if kind == "folder":
        return FolderSource(Path(location))
    raise ValueError(f"unknown source kind {kind!r}")
