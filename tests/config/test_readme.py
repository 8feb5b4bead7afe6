"""The README's configuration table is generated from the settings model: keep it in sync."""

import subprocess
import sys

from tests.conftest import REPO


def test_readme_configuration_table_matches_settings() -> None:
    table = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "settings_reference.py")],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README configuration table is stale: run scripts/settings_reference.py"


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
