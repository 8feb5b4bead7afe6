"""The answering model on the admin page, in the admin API's evidence and in the records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from config.presets import BUILTIN_PRESETS
from config.settings import Settings
from generation.models import preset_file
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

BUNDLED = BUILTIN_PRESETS["smollm2-135m"]


def test_admin_page_and_evidence_name_the_model_its_hash_and_licence(app, client  # type: ignore[no-untyped-def]
                                                                      ) -> None:
    path = preset_file(BUNDLED, app.extensions["enclave"].settings.gguf_dir)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha == BUNDLED.sha256  # the pinned hash is the file's

    before = client.get("/admin/").get_data(as_text=True)
    assert "Answering model" in before and "SmolLM2-135M-Instruct Q4_1" in before
    assert "preset smollm2-135m" in before and str(path) in before
    assert f"{path.stat().st_size:,} bytes" in before and "llamacpp" in before
    assert "Apache-2.0" in before and "the file says: apache-2.0" in before

    body = client.post("/api/v1/ask", json={"question": "What is the daily meal allowance?",
                                            "collection": "handbook"}).get_json()
    evidence = client.get("/api/v1/admin/evidence").get_json()
    rec = next(r for r in evidence if r["id"] == body["evidence_id"])
    assert rec["model_name"] == body["model"] == path.name
    assert rec["model_sha256"] == sha
    assert (rec["model_preset"], rec["model_backend"], rec["model_licence"]) == (
        "smollm2-135m", "llamacpp", "Apache-2.0")
    assert rec["draft"] == body["draft"]  # what became of the model's draft, kept as evidence
    csv_export = client.get("/admin/evidence.csv").get_data(as_text=True)
    assert "model_preset,model_backend,model_licence" in csv_export.splitlines()[0]

    after = client.get("/admin/").get_data(as_text=True)
    assert sha in after  # the hash, known once the model was loaded and checked
    assert "Runs as" in after and ("BF16" in after or "Q8_0" in after)
    assert "converted locally by llama.cpp" in after
    assert f"{path.name} (smollm2-135m)" in after  # the evidence table names the preset


class TestModelServer:
    """The ``openai`` backend: the admin page names the served model and where it runs."""

    @pytest.fixture
    def handbook_settings(self, handbook_copy: Path) -> Settings:
        return make_settings(handbook_copy, generation={"backend": "openai"})

    def test_admin_page_says_what_a_model_server_is(self, app, client) -> None:  # type: ignore[no-untyped-def]
        page = client.get("/admin/").get_data(as_text=True)
        model = page.split("<h2>Answering model</h2>")[1].split("<h2>Audit log</h2>")[0]
        base_url = app.extensions["enclave"].settings.generation.openai_base_url
        assert "openai" in model and base_url in model
        assert "SHA-256" not in model  # the server's file is not ours to hash
