"""An MCP server: ``collections``, ``search`` and ``ask`` tools over the caller's own access.

Local agent tools use Enclave as a source through the Model Context Protocol (the ``mcp``
SDK). Every call acts as the owner of an Enclave API token, resolved afresh on each call (a
revoked token or a removed group takes effect at once), through the same services as the web
app: access control inside retrieval, abstention, evidence records. ``search`` and ``ask`` take
the scope as the JSON API does: ``collection`` (one), ``collections`` (several, searched as
one), or neither for every collection the caller can read.

- stdio (``python -m web mcp``): the token comes from ``ENCLAVE_TOKEN``; the agent starts the
  process.
- Streamable HTTP (``python -m web mcp --transport http``): each request carries its own
  ``Authorization: Bearer enc_...``; the server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from generation.events import final_answer
from ingest.pipeline import COLLECTION_NAME_RE
from services.actor import Actor
from services.container import Services
from services.errors import ServiceError
from web.schemas.types import MAX_SCOPE, union_scope

Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Name = Annotated[str, Field(pattern=COLLECTION_NAME_RE.pattern,
                            description="A collection name (the collections tool lists yours).")]
Collection = Annotated[Name | None, Field(
    description="One collection (the collections tool lists yours).")]
Collections = Annotated[list[Name] | None, Field(
    max_length=MAX_SCOPE,
    description="Several collections, searched as one (with 'collection': their union). Leave "
                "both out, or pass an empty list, for every collection you can read.")]
K = Annotated[int, Field(ge=1, le=20)]


class EnclaveTokens:
    """Verifies bearer tokens of the HTTP transport against Enclave's API tokens."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's owner, or None (the SDK answers 401)."""
        account = await anyio.to_thread.run_sync(self._services.logins.token_account, token)
        if account is None:
            return None
        return AccessToken(token=token, client_id="enclave", scopes=[], subject=account.username)


def build_mcp(services: Services, stdio_token: str | None = None, *,
              url: str | None = None) -> MCPServer:
    """The MCP server over ``services``.

    ``stdio_token``: the token every call acts for (stdio). ``url``: the server's own URL on
    the HTTP transport, where each request's bearer token is verified instead.
    """
    http_auth = {}
    if url is not None:
        http_auth = {"token_verifier": EnclaveTokens(services),
                     "auth": AuthSettings(issuer_url=url, resource_server_url=url + "/mcp")}
    server = MCPServer(
        name="enclave", version="1",
        instructions="Search and ask questions over the user's Enclave document collections. "
                     "Answers cite their sources as [n]; use 'collections' to list the scopes.",
        **http_auth,
    )

    def actor_for(token: str | None) -> Actor:
        account = services.logins.token_account(token) if token else None
        if account is None:
            raise ToolError("The Enclave API token is missing, invalid, expired or revoked.")
        return Actor(account.id, account.username, account.role, account.principal, via="mcp")

    async def call(fn: Any) -> Any:
        access = get_access_token()  # the HTTP request's token (None on stdio)
        token = access.token if access is not None else stdio_token

        def run() -> Any:
            who = actor_for(token)  # resolved on every call: revocation applies at once
            try:
                return fn(who)
            except ServiceError as exc:
                raise ToolError(exc.message) from None

        return await anyio.to_thread.run_sync(run)

    @server.tool(description="The collections you can search and ask about.")
    async def collections() -> list[str]:
        return await call(lambda who: [c.name for c in services.library.collections(who)])

    @server.tool(description="Passages that match a query, best first, with their collection, "
                             "document and page, from one collection, several, or every one "
                             "you can read. Only documents you may read.")
    async def search(query: Text, collection: Collection = None, collections: Collections = None,
                     k: K = 5) -> list[dict[str, Any]]:
        scope = union_scope(collection, collections)

        def run(who: Actor) -> list[dict[str, Any]]:
            hits = services.asking.search(who, query, scope, k)
            return [{"n": i, "collection": h.collection, "document": h.document, "page": h.page,
                     "heading": h.heading_path, "text": h.text, "score": round(h.score, 4),
                     "chunk_id": h.chunk_id}
                    for i, h in enumerate(hits, 1)]
        return await call(run)

    @server.tool(description="Answer a question with numbered citations [n] from one collection, "
                             "several, or every one you can read; says so when the documents "
                             "do not answer it.")
    async def ask(question: Text, collection: Collection = None,
                  collections: Collections = None) -> dict[str, Any]:
        scope = union_scope(collection, collections)

        def run(who: Actor) -> dict[str, Any]:
            done = final_answer(services.asking.ask(who, question, scope))
            answer = done.to_dict()
            return {"answer": answer["answer"], "abstained": answer["abstained"],
                    "citations": [{"n": c["n"], "document": c["document"], "page": c["page"],
                                   "quote": c["quote"]} for c in answer["citations"]],
                    "evidence_id": done.evidence_id}
        return await call(run)

    return server
