"""Cross-encoder reranking from a local sentence-transformers ``CrossEncoder`` directory.

No cross-encoder ships in a package registry, so reranking is off by default; point
``retrieval.reranker_path`` at any local cross-encoder directory (for example a copy of
``cross-encoder/ms-marco-MiniLM-L-6-v2`` brought in on approved media) to turn it on.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder loaded once per process."""

    def __init__(self, model_path: str, device: str = "cpu", batch_size: int = 32) -> None:
        self.model_path = model_path
        self.device = device
        self.batch_size = batch_size

    def _model(self) -> Any:
        key = (str(Path(self.model_path).resolve()), self.device)
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                if not Path(self.model_path).is_dir():
                    raise RuntimeError(f"cross-encoder directory not found: {self.model_path}")
                from sentence_transformers import CrossEncoder

                model = CrossEncoder(self.model_path, device=self.device, local_files_only=True)
                _MODELS[key] = model
        return model

    def score(self, query: str, passages: list[str]) -> list[float]:
        """One relevance score per passage (higher is better)."""
        if not passages:
            return []
        scores = self._model().predict(
            [(query, p) for p in passages], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]
