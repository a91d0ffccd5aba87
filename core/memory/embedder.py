"""Embeddings for memory, through the one OpenAI wrapper's client.

Batches the texts, asks for ``EMBEDDING_DIMENSIONS`` when set, and falls back
to the model's native size (once, then remembered) when the endpoint refuses
the ``dimensions`` parameter, as older models and some local servers do.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import openai

from core.llm import ModelError, OpenAIModel, describe_api_error

log = logging.getLogger(__name__)

# Embedding endpoints cap the inputs of one request (OpenAI: 2,048) and their tokens.
MAX_BATCH = 256
# text-embedding-3 reads up to 8,191 tokens; longer messages are cut (roughly 4 characters a token).
MAX_CHARS = 24_000


class Embedder:
    """Turns texts into float32 vectors with the embedding model role."""

    def __init__(
        self, model: OpenAIModel, *, dimensions: int | None = None, batch_size: int = 64, cache_size: int = 256
    ) -> None:
        self.model = model
        self.dimensions = dimensions
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        # Recent texts' vectors: a new message embedded for recall is not embedded again to be indexed.
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size

    @property
    def name(self) -> str:
        return self.model.models.embedding

    async def embed(self, texts: Sequence[str], *, timeout: float | None = None) -> np.ndarray:
        """One row per text, in order. Raises :class:`core.llm.ModelError` when the endpoint fails."""
        inputs = [(text or " ")[:MAX_CHARS] for text in texts]
        found = {text: self._recent[text] for text in inputs if text in self._recent}
        missing = [text for text in dict.fromkeys(inputs) if text not in found]
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            for text, vector in zip(batch, await self._embed_batch(batch, timeout), strict=True):
                found[text] = vector
                self._remember(text, vector)
        if not inputs:
            return np.empty((0, self.dimensions or 0), dtype=np.float32)
        return np.vstack([found[text] for text in inputs]).astype(np.float32, copy=False)

    def cached(self, text: str) -> np.ndarray | None:
        """The vector of ``text`` if it was embedded recently (no network call), else None."""
        return self._recent.get((text or " ")[:MAX_CHARS])

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._recent[text] = vector
        self._recent.move_to_end(text)
        while len(self._recent) > self.cache_size:
            self._recent.popitem(last=False)

    async def _embed_batch(self, texts: list[str], timeout: float | None) -> list[np.ndarray]:
        client = self.model.client if timeout is None else self.model.client.with_options(timeout=timeout)
        request: dict[str, Any] = {"model": self.name, "input": texts, "encoding_format": "base64"}
        if self.dimensions:
            request["dimensions"] = self.dimensions
        try:
            response = await client.embeddings.create(**request)
        except openai.BadRequestError as exc:
            if self.dimensions and "dimension" in str(exc).lower():
                log.warning("the embedding endpoint refuses 'dimensions'; using the model's own size")
                self.dimensions = None
                self._recent.clear()
                return await self._embed_batch(texts, timeout)
            raise describe_api_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ModelError
            raise describe_api_error(exc) from exc
        vectors = []
        for item in sorted(response.data, key=lambda d: d.index):
            raw = item.embedding
            if isinstance(raw, str):
                vectors.append(np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float32))
            else:
                vectors.append(np.asarray(raw, dtype=np.float32))
        if len(vectors) != len(texts):
            raise ModelError(
                "unavailable", "The embedding service answered for a different number of texts.", detail="bad response"
            )
        return vectors


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as little-endian float32 bytes, for the database."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
