"""Shared fixtures: test settings with a fresh data dir, the real bundled models loaded once
per session, the sample corpus, and Flask ``app``/``client``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Contract suites (``pytest.mark.both_databases``) run once per catalog: SQLite, PostgreSQL."""
    if (metafunc.definition.get_closest_marker("both_databases")
            and "catalog" in metafunc.fixturenames):
        metafunc.parametrize("catalog", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def catalog(request: pytest.FixtureRequest) -> str:
    """Which catalog database the test runs on: ``sqlite`` unless the suite runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(tmp_path: Path, catalog: str, request: pytest.FixtureRequest) -> Settings:
    """Test settings with an empty data dir (and, on PostgreSQL, an empty database) of its own."""
    if catalog == "postgres":
        return make_settings(tmp_path / "data", database_url=request.getfixturevalue("pg_url"))
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


ADMIN_PASSWORD = "correct-horse-battery-1"
USER_PASSWORD = "staple-river-lantern-2"


def make_user(app, username: str, role: str = "reader", groups: tuple[str, ...] = (),  # type: ignore[no-untyped-def]
              password: str = USER_PASSWORD) -> None:
    """Create a local user directly in the app's catalog."""
    from services.accounts import create_user, set_groups

    with app.extensions["enclave"].stack.sessions() as db:
        user = create_user(db, username, password, role)
        if groups:
            set_groups(db, user, groups)
        db.commit()


def make_token(app, username: str) -> str:  # type: ignore[no-untyped-def]
    """A new API token for ``username``."""
    from services.accounts import create_token, get_user

    with app.extensions["enclave"].stack.sessions() as db:
        user = get_user(db, username)
        assert user is not None
        token = create_token(db, user, "test")
        db.commit()
        return token.secret


def csrf_token_of(html: str) -> str:
    """The CSRF token a page carries in its ``<meta name="csrf-token">``."""
    import re

    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def _client_class():  # type: ignore[no-untyped-def]
    from flask.testing import FlaskClient
    from werkzeug.datastructures import Headers

    class EnclaveTestClient(FlaskClient):
        """Sends the page's CSRF token with state-changing requests, as the pages' JS does
        (``auto_csrf = False`` to test the check itself)."""

        auto_csrf = True

        def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            method = str(kwargs.get("method") or "GET").upper()
            headers = Headers(kwargs.pop("headers", None) or {})
            if (self.auto_csrf and method in ("POST", "PUT", "PATCH", "DELETE")
                    and "Authorization" not in headers and "X-CSRFToken" not in headers
                    and "HTTP_AUTHORIZATION" not in self.environ_base):
                page = super().open("/login", method="GET")
                headers["X-CSRFToken"] = csrf_token_of(page.get_data(as_text=True))
            kwargs["headers"] = headers
            return super().open(*args, **kwargs)

    return EnclaveTestClient


def login(client, username: str, password: str):  # type: ignore[no-untyped-def]
    """Log ``client`` in through the login form; returns the response."""
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture(scope="session")
def handbook_pg(tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path
                ) -> Iterator[tuple[Path, str]]:
    """The handbook ingested once into a PostgreSQL template database: (data dir, template)."""
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    with _throwaway_database("enclave_tpl") as url:
        data_dir = tmp_path_factory.mktemp("handbook_pg")
        stack = build_retrieval(make_settings(data_dir, database_url=url))
        results = build_ingestor(stack).ingest_paths(
            [(p, p.name) for p in sorted(sample_corpus.iterdir())], "handbook")
        stack.close()  # a template database must have no open connections
        assert all(r.status == "added" for r in results), results
        yield data_dir, url.rsplit("/", 1)[1]


@pytest.fixture
def handbook_settings(catalog: str, tmp_path: Path, request: pytest.FixtureRequest
                      ) -> Iterator[Settings]:
    """Settings over a private copy of the ingested handbook, on the suite's catalog."""
    if catalog != "postgres":
        yield make_settings(request.getfixturevalue("handbook_copy"))
        return
    data_dir, template = request.getfixturevalue("handbook_pg")
    target = tmp_path / "handbook_pg_copy"
    shutil.copytree(data_dir, target)
    with _throwaway_database("enclave_test", template=template) as url:
        yield make_settings(target, database_url=url)


@pytest.fixture
def app(handbook_settings: Settings):  # type: ignore[no-untyped-def]
    """The Flask app over a writable copy of the ingested handbook, with an admin ``admin``."""
    from web import create_app, start

    application = start(create_app(handbook_settings))
    application.config["TESTING"] = True
    application.test_client_class = _client_class()
    make_user(application, "admin", "admin", password=ADMIN_PASSWORD)
    yield application
    application.extensions["enclave"].close()


@pytest.fixture
def anonymous_client(app):  # type: ignore[no-untyped-def]
    """A test client that is not logged in."""
    return app.test_client()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """A test client logged in as the admin (browser session, CSRF sent automatically)."""
    c = app.test_client()
    assert login(c, "admin", ADMIN_PASSWORD).status_code == 302
    return c


POSTGRES = os.environ.get("ENCLAVE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def _throwaway_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on the local PostgreSQL (a copy of ``template`` if given), dropped after.

    Unreachable server: the test fails under CI and is skipped elsewhere.
    """
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'
                              + (f' TEMPLATE "{template}"' if template else "")))
    except Exception as exc:  # noqa: BLE001 - say what is missing, then fail or skip
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL (127.0.0.1:5432, trust auth; `.ci/run`
    starts the server when it is down), dropped afterwards. Fails under CI when unreachable."""
    with _throwaway_database("enclave_test") as url:
        yield url
