"""``python -m web`` account commands and the token-authenticated client commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web.__main__ import main

pytestmark = pytest.mark.integration

STRONG = "violet-harbour-engine-42"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("ENCLAVE_PROFILE", "test")
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(data))
    monkeypatch.delenv("ENCLAVE_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("ENCLAVE_TOKEN", raising=False)
    return data


def test_create_admin_needs_a_password_and_runs_once(cli_env: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["create-admin"]) == 2  # no env, no terminal: refused, nothing created
    assert "ENCLAVE_ADMIN_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("ENCLAVE_ADMIN_PASSWORD", "short")
    assert main(["create-admin"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setenv("ENCLAVE_ADMIN_PASSWORD", STRONG)
    assert main(["create-admin", "--username", "root-admin"]) == 0
    assert main(["create-admin", "--if-missing"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    monkeypatch.delenv("ENCLAVE_ADMIN_PASSWORD")
    assert main(["create-admin", "--username", "second", "--generate"]) == 0
    out = capsys.readouterr().out
    generated = out.split("once, change it on the Account page): ")[1].strip()
    assert len(generated) >= 20

    from config import load_settings
    from services.container import build_services

    identity = build_services(load_settings(profile="test")).identity
    assert identity.login("root-admin", STRONG).user_id is not None
    assert identity.login("second", generated).user_id is not None
    assert identity.login("second", "admin").user_id is None


def test_client_commands_use_an_api_token(app, live_server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_token

    base_url = live_server(app)
    assert main(["search", "meal allowance", "--url", base_url]) == 2  # no token
    token = make_token(app, "admin")
    monkeypatch.setenv("ENCLAVE_TOKEN", token)
    assert main(["search", "daily meal allowance", "--url", base_url]) == 0
    assert "travel-and-expenses.pdf" in capsys.readouterr().out
    assert main(["search", "x", "--collection", "nope", "--url", base_url]) == 1
    assert "404: no collection named 'nope'" in capsys.readouterr().err
    # a scope of several collections, or all the user can read
    assert main(["search", "daily meal allowance", "-c", "handbook", "-c", "nope",
                 "--url", base_url]) == 1
    assert "404: no collection named 'nope'" in capsys.readouterr().err
    assert main(["search", "daily meal allowance", "--all", "--url", base_url, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["collections"] == ["handbook"] and found["hits"]
    assert main(["ask", "What is the daily meal allowance?", "-c", "handbook", "-c", "handbook",
                 "--url", base_url]) == 0
    assert "travel-and-expenses.pdf" in capsys.readouterr().out
    monkeypatch.setenv("ENCLAVE_TOKEN", token[:-2] + "xx")
    assert main(["search", "meal", "--url", base_url]) == 1
    assert "401" in capsys.readouterr().err
