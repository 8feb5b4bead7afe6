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

from db.models import AnswerRecord, Conversation
from retrieval.acl import grant_collection
from retrieval.catalog import get_collection
from services.accounts import get_user, revoke_token
from tests.conftest import REPO, make_token, make_user
from tests.web.conftest import add_collection

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


POLICIES_TEXT = (b"# Remote work\n\nRemote work from abroad needs the codeword ORCHID-REMOTE-22 "
                 b"from the policies desk.\n")
BOARD_TEXT = (b"# Board minutes\n\nThe board approved remote work from abroad under the "
              b"codeword BOARD-CANARY-17.\n")
REMOTE = "Which codeword does remote work from abroad need?"


def test_search_and_ask_take_several_or_all_collections(app) -> None:  # type: ignore[no-untyped-def]
    token = _reader_token(app)  # rita (staff): the handbook, and policies below; not the board
    add_collection(app, "policies", "staff", {"remote.md": POLICIES_TEXT})
    add_collection(app, "board", "board", {"minutes.md": BOARD_TEXT})
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "web", "mcp"], cwd=str(REPO),
        env=_env(app, ENCLAVE_TOKEN=token, ENCLAVE_GENERATION__MODE="extractive"))
    query = "codeword remote work abroad"
    scopes = {"several": {"collections": ["policies", "handbook"]},
              "union": {"collection": "handbook", "collections": ["policies", "handbook"]},
              "all": {}, "empty": {"collections": []}, "one": {"collection": "handbook"}}

    async def main() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=300) as client:
            seen: dict[str, Any] = {t.name: t.input_schema for t in (await client.list_tools()).tools}
            seen["collections"] = _payload(await client.call_tool("collections", {}))
            for name, scope in scopes.items():
                seen[name] = _payload(await client.call_tool("search", {"query": query, "k": 10,
                                                                        **scope}))
            for name, scope in {"hidden": ["handbook", "board"], "unknown": ["handbook", "nowhere"],
                                "malformed": ["no spaces"]}.items():
                seen[name] = await client.call_tool("search", {"query": query, "collections": scope})
            seen["hidden_ask"] = await client.call_tool("ask", {"question": REMOTE,
                                                                "collections": ["board"]})
            seen["ask_several"] = _payload(await client.call_tool(
                "ask", {"question": REMOTE, "collections": ["handbook", "policies"]}))
            seen["ask_all"] = _payload(await client.call_tool("ask", {"question": REMOTE}))
            return seen

    seen = _run(main)
    for tool, first in (("search", "query"), ("ask", "question")):
        assert seen[tool]["required"] == [first]  # the scope is optional: all you can read
        assert seen[tool]["properties"]["collections"]["anyOf"][0]["type"] == "array"
    assert seen["collections"] == ["handbook", "policies"]
    for name in scopes:
        hits = seen[name]
        assert hits and "BOARD-CANARY" not in json.dumps(hits), name
        if name == "one":
            assert {h["collection"] for h in hits} == {"handbook"}
        else:
            assert {h["collection"] for h in hits} == {"handbook", "policies"}, name
            assert "ORCHID-REMOTE-22" in hits[0]["text"] + hits[1]["text"], name
    # an unreadable collection: the same error as an unknown one; a malformed name: refused
    hidden, unknown = seen["hidden"], seen["unknown"]
    assert hidden.is_error and unknown.is_error and "board" in hidden.content[0].text
    assert hidden.content[0].text.replace("board", "X") == unknown.content[0].text.replace(
        "nowhere", "X")
    assert seen["hidden_ask"].is_error and seen["malformed"].is_error
    with app.extensions["enclave"].stack.sessions() as db:
        for name, label in (("ask_several", "handbook,policies"), ("ask_all", "*")):
            answer = seen[name]
            assert "ORCHID-REMOTE-22" in answer["answer"] and answer["citations"], answer
            assert "BOARD-CANARY" not in json.dumps(answer)
            record = db.get(AnswerRecord, answer["evidence_id"])
            assert record is not None and record.username == "rita"
            assert db.get(Conversation, record.conversation_id).collection == label


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
