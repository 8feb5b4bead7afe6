"""The README and docs/ stay true: the configuration table is generated from the settings model,
the README stays short and names the two commands, and relative links lead somewhere."""

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

README_MAX_LINES = 200
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _relative_links(text: str) -> list[str]:
    """Link targets outside code, without web, mail or same-page links."""
    text = _CODE.sub("", _FENCE.sub("", text))
    targets = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue
        targets.append(target)
    return targets


def test_configuration_table_matches_settings() -> None:
    table = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "settings_reference.py")],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert table in page, "docs/configuration.md is stale: run scripts/settings_reference.py"


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail to docs/"
    )


def test_relative_links_point_to_existing_files() -> None:
    pages = _doc_pages()
    assert len(pages) > 1, "docs/ has no pages"
    broken = []
    checked = 0
    for page in pages:
        for target in _relative_links(page.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0].split("?", 1)[0]
            checked += 1
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert checked, "no relative links found: the link pattern is broken"
    assert not broken, "links to missing files:\n" + "\n".join(broken)
