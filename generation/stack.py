"""Build the generator (backend chosen by ``generation.backend``) and the answerer."""

from __future__ import annotations

from config.settings import Settings
from generation.answerer import Answerer
from generation.types import Generator
from retrieval.retriever import Retriever
from retrieval.types import Embedder


def build_generator(settings: Settings) -> Generator:
    """The configured backend; heavy imports stay lazy."""
    match settings.generation.backend:
        case "llamacpp":
            from generation.backends.llamacpp import LlamaCppGenerator
            from generation.models import hash_cache, resolve_local_model

            model = resolve_local_model(settings.generation, settings.gguf_dir)
            gen = settings.generation
            return LlamaCppGenerator(gen, model, hash_cache(settings.gguf_dir),
                                     convert_dir=settings.gguf_dir if gen.convert_models else None)
        case "openai":
            from generation.backends.openai import OpenAICompatibleGenerator

            return OpenAICompatibleGenerator(settings.generation)
    raise ValueError(f"unknown generation.backend {settings.generation.backend!r}")


def build_answerer(
    settings: Settings, retriever: Retriever, embedder: Embedder | None = None
) -> Answerer:
    """An answerer over ``retriever`` with the configured generator.

    ``embedder`` scores whether passages support the answer's sentences; pass the retrieval
    stack's (already loaded) embedder. Without one the retriever's own is used.
    """
    if embedder is None:
        embedder = getattr(retriever, "_embedder", None)
    return Answerer(settings, retriever, build_generator(settings), embedder)
