"""Print the configuration reference (a Markdown table) from the settings model.

docs/configuration.md holds this output; tests/config/test_readme.py checks that
they match, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import Settings  # noqa: E402


def _rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += _rows(ann, f"{prefix}{name}.")
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = " ".join(str(d) for d in default)
        rows.append((prefix + name, "" if default is None else str(default),
                     field.description or ""))
    return rows


def reference() -> str:
    """The Markdown table."""
    lines = ["| key | env variable | default | meaning |", "|---|---|---|---|"]
    for key, default, description in _rows(Settings):
        env = "ENCLAVE_" + key.replace(".", "__").upper()
        lines.append(f"| `{key}` | `{env}` | `{default}` | {description} |")
    return "\n".join(lines)


DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN settings table (scripts/settings_reference.py) -->\n"
END = "<!-- END settings table -->"


def update_doc(path: Path = DOC) -> None:
    """Replace the table between the markers of docs/configuration.md."""
    doc = path.read_text(encoding="utf-8")
    start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    path.write_text(doc[:start] + reference().strip() + "\n" + doc[stop:], encoding="utf-8")


if __name__ == "__main__":
    if "--update" in sys.argv[1:]:
        update_doc()
        print(f"updated {DOC}")
    else:
        print(reference())
