"""Any OpenAI-compatible server on the local network.

vLLM (``vllm serve``) on GPU hosts, llama.cpp's server, or another open-weight model server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from config.settings import GenerationSettings
from generation.prompt import STOP_SEQUENCES
from generation.types import Message, ModelInfo


class OpenAICompatibleGenerator:
    """Streams chat completions over HTTP from ``generation.openai_base_url``."""

    def __init__(self, settings: GenerationSettings) -> None:
        self._settings = settings
        self._client: Any = None

    @property
    def model_name(self) -> str:
        """The served model name."""
        return self._settings.openai_model

    def model_info(self, *, hash_now: bool = True) -> ModelInfo:
        """The served model: its file, hash and licence are the server's to report."""
        del hash_now  # no local file
        return ModelInfo(name=self.model_name, title=self.model_name, backend="openai",
                         source=self._settings.openai_base_url)

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self._settings.openai_base_url,
                api_key=self._settings.openai_api_key,
                timeout=self._settings.request_timeout_s,
                max_retries=1,
            )
        return self._client

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield answer text pieces from the server's streamed response."""
        from openai import APIError

        try:
            response = self._get_client().chat.completions.create(
                model=self._settings.openai_model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=self._settings.seed,
                stop=STOP_SEQUENCES,
                stream=True,
            )
            with response:  # closing the stream early closes the request: the server stops
                for chunk in response:
                    if not chunk.choices:
                        continue
                    text = chunk.choices[0].delta.content
                    if text:
                        yield text
        except APIError as exc:
            raise RuntimeError(
                f"the model server at {self._settings.openai_base_url} failed: {exc}"
            ) from exc
