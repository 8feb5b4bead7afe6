"""The MCP server driven by the MCP SDK's own client, over stdio and streamable HTTP.

``python -m web mcp`` runs as a real subprocess on a copy of the ingested handbook; the tools
act as the owner of an Enclave API token (resolved on every call).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from retrieval.acl import grant_collection
from retrieval.catalog import get_collection
from services.accounts import get_user, revoke_token
from tests.conftest import REPO, make_token, make_user

pytestmark = pytest.mark.integration


def _env(app: Any, **extra: str) -> dict[str, str]:
    data_dir = str(app.extensions["enclave"].settings.data_dir)
    return {**os.environ, "ENCLAVE_PROFILE": "test", "ENCLAVE_DATA_DIR": data_dir, **extra}


def _reader_token(app: Any) -> str:
    with app.extensions["enclave"].stack.sessions() as db:
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        db.commit()
    make_user(app, "rita", "reader", ("staff",))
    return make_token(app, "rita")


def _revoke_all(app: Any, username: str) -> None:
    from services.accounts import list_tokens

    with app.extensions["enclave"].stack.sessions() as db:
        for token in list_tokens(db, get_user(db, username).id):
            revoke_token(db, token.id)
        db.commit()


def _payload(result: Any) -> Any:
    assert not result.is_error, result
    if result.structured_content is not None:
        content = result.structured_content
        return content.get("result", content)
    return json.loads(result.content[0].text)


async def _exercise(client: Client) -> dict[str, Any]:
    tools = {t.name for t in (await client.list_tools()).tools}
    collections = _payload(await client.call_tool("collections", {}))
    hits = _payload(await client.call_tool("search", {"query": "daily meal allowance",
                                                      "collection": "handbook", "k": 3}))
    answer = _payload(await client.call_tool("ask", {
        "question": "What is the daily meal allowance for domestic trips?",
        "collection": "handbook"}))
    too_long = await client.call_tool("search", {"query": "x" * 3000, "collection": "handbook"})
    return {"tools": tools, "collections": collections, "hits": hits, "answer": answer,
            "too_long": too_long}


def _check(seen: dict[str, Any]) -> None:
    assert {"collections", "search", "ask"} <= seen["tools"]
    assert seen["collections"] == ["handbook"]
    assert seen["hits"] and seen["hits"][0]["document"]
    assert "45" in seen["answer"]["answer"] and seen["answer"]["citations"]
    assert seen["answer"]["evidence_id"] > 0
    assert seen["too_long"].is_error  # validated by the tool's schema


def test_stdio_tools_act_as_the_token_owner(app) -> None:  # type: ignore[no-untyped-def]
    token = _reader_token(app)
    params = StdioServerParameters(command=sys.executable, args=["-m", "web", "mcp"],
                                   env=_env(app, ENCLAVE_TOKEN=token), cwd=str(REPO))

    async def main() -> tuple[dict[str, Any], Any]:
        async with Client(params, read_timeout_seconds=300) as client:
            seen = await _exercise(client)
            _revoke_all(app, "rita")
            after = await client.call_tool("collections", {})
            return seen, after

    seen, after = _run(main)
    _check(seen)
    assert after.is_error and "revoked" in after.content[0].text


def _run(main: Any) -> Any:
    """Run an async ``main`` on a thread of its own (a browser test may own this thread's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, main).result()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_transport_checks_each_requests_token(app) -> None:  # type: ignore[no-untyped-def]
    token = _reader_token(app)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "web", "mcp", "--transport", "http", "--port", str(port)],
        cwd=REPO, env=_env(app), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.5)

        async def main() -> tuple[dict[str, Any], int]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=headers, timeout=300) as http, \
                    Client(streamable_http_client(url, http_client=http),
                           read_timeout_seconds=300) as client:
                seen = await _exercise(client)
            async with httpx2.AsyncClient(timeout=30) as anonymous:
                refused = await anonymous.post(url, json={"jsonrpc": "2.0", "id": 1,
                                                          "method": "tools/list"})
            return seen, refused.status_code

        seen, anonymous_status = _run(main)
        _check(seen)
        assert anonymous_status == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
