"""Enclave's retriever as a LangChain ``BaseRetriever``, for existing LangChain chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.acl import Principal
from retrieval.retriever import Retriever
from retrieval.types import Hit


def hit_to_document(hit: Hit) -> LCDocument:
    """Convert a hit to a LangChain document (metadata keeps the citation fields)."""
    metadata: dict[str, Any] = hit.to_dict()
    text = metadata.pop("text")
    return LCDocument(page_content=text, metadata=metadata, id=str(hit.chunk_id))


class EnclaveRetriever(BaseRetriever):
    """``retriever.invoke("question")`` -> LangChain documents from one Enclave collection.

    Give ``principal`` (the user the chain answers for) and only passages of documents that
    user may read come back; without one the chain reads everything, as a trusted local tool.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    collection: str
    k: int = 5
    principal: Principal | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.search(query, self.collection, self.k, principal=self.principal)
        return [hit_to_document(h) for h in hits]
