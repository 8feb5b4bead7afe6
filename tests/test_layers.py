"""The layering of docs/architecture.md holds: import-linter's contracts in pyproject.toml.

web → services → ingest | generation → retrieval → db → config, web never touching the ORM
or a backend, the stages reaching backends only through their factories, and no import
cycle between the modules of a package (function-level imports count too).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_contracts_cover_every_top_level_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = {p.name for p in REPO.iterdir() if (p / "__init__.py").exists()}
    product = packages - {"tests", "bench", "scripts", "docker"}
    assert product == set(config["root_packages"])
    layers = config["contracts"][0]["layers"]
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    assert layered == product
