"""Shared fixtures: test settings with a fresh data dir, the real bundled models loaded once
per session, the sample corpus, and Flask ``app``/``client``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import configure_offline, load_settings
from config.settings import Settings

configure_offline()

REPO = Path(__file__).resolve().parent.parent


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Test-profile settings rooted at ``data_dir``."""
    return load_settings(profile="test", overrides={"data_dir": str(data_dir), **overrides})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings with an empty data dir of its own."""
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample handbook (PDF, DOCX, HTML, Markdown), generated once."""
    out = tmp_path_factory.mktemp("sample_corpus")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_sample_corpus.py"), str(out)],
        check=True, capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def sample_questions() -> list[dict[str, str]]:
    """The handbook's question/answer pairs."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from make_sample_corpus import QUESTIONS
    finally:
        sys.path.pop(0)
    return list(QUESTIONS)


@pytest.fixture
def stack(settings: Settings) -> Iterator[object]:
    """A retrieval stack on the test data dir (the embedding model is cached per process)."""
    from retrieval.stack import build_retrieval

    s = build_retrieval(settings)
    yield s
    s.close()


@pytest.fixture
def ingestor(stack: object) -> object:
    """An ingestor over ``stack``."""
    from ingest.stack import build_ingestor

    return build_ingestor(stack)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def handbook_dir(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path) -> Path:
    """A data dir with the sample corpus ingested once into 'handbook' (treat as read-only;
    copy it with ``handbook_copy`` to change it)."""
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    data_dir = tmp_path_factory.mktemp("handbook_data")
    stack = build_retrieval(make_settings(data_dir))
    results = build_ingestor(stack).ingest_paths(
        [(p, p.name) for p in sorted(sample_corpus.iterdir())], "handbook"
    )
    stack.close()
    assert all(r.status == "added" for r in results), results
    return data_dir


@pytest.fixture
def handbook_copy(handbook_dir: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the ingested handbook data dir."""
    target = tmp_path / "handbook_copy"
    shutil.copytree(handbook_dir, target)
    return target


@pytest.fixture
def app(handbook_copy: Path):  # type: ignore[no-untyped-def]
    """The Flask app over a writable copy of the ingested handbook."""
    from web import create_app

    application = create_app(make_settings(handbook_copy))
    application.config["TESTING"] = True
    yield application
    application.extensions["enclave"].close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """Flask test client."""
    return app.test_client()
