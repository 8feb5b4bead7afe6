"""The ``openai`` backend for real: llama.cpp's OpenAI-compatible server on loopback,
serving the bundled GGUF (the same protocol vLLM's ``vllm serve`` speaks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    from config.presets import BUILTIN_PRESETS
    from generation.models import preset_file

    bundled = preset_file(BUILTIN_PRESETS["smollm2-135m"], Path("unused"))
    port = _free_port()
    # llama_cpp.server with the same guard as Enclave's own loader: no weight repacking
    # where llama.cpp reports AMX (it crashed decoding; generation/backends/llamacpp.py).
    server = ("import runpy\n"
              "from generation.backends.llamacpp import model_load_params, use_extra_buffers\n"
              "from generation.convert import cpu_features\n"
              "with model_load_params(use_extra_bufts=use_extra_buffers(cpu_features())):\n"
              "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", server, "--model", str(bundled),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--verbose", "false"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"llama_cpp.server did not start: {err}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_openai_backend_answers_with_citations(llama_server: str, handbook_dir: Path) -> None:
    from generation.stack import build_answerer
    from retrieval.stack import build_retrieval

    settings = make_settings(
        handbook_dir,
        generation={"backend": "openai", "openai_base_url": llama_server,
                    "openai_model": "smollm2", "max_tokens": 96},
    )
    stack = build_retrieval(settings)
    try:
        answerer = build_answerer(settings, stack.retriever)
        assert answerer.model_name == "smollm2"
        events = [e.to_dict() for e in answerer.stream("What is the daily meal allowance?",
                                                        "handbook")]
        assert sum(e["event"] == "token" for e in events) > 1  # really streamed
        done = events[-1]
        assert done["event"] == "done" and not done["abstained"]
        assert "45" in done["answer"] or "60" in done["answer"]
        assert done["citations"] and done["citations"][0]["document"] == "travel-and-expenses.pdf"
    finally:
        stack.close()


def test_unreachable_server_gives_a_clear_error(handbook_dir: Path) -> None:
    from generation.backends.openai import OpenAICompatibleGenerator

    settings = make_settings(
        handbook_dir,
        generation={"backend": "openai", "openai_base_url": f"http://127.0.0.1:{_free_port()}/v1",
                    "request_timeout_s": 5},
    )
    gen = OpenAICompatibleGenerator(settings.generation)
    with pytest.raises(RuntimeError, match="model server at http://127.0.0.1"):
        list(gen.stream([{"role": "user", "content": "hi"}], 8, 0.0))
