"""One async wrapper over the official ``openai`` client.

Everything the assistant asks of a model goes through :class:`OpenAIModel`:
streamed chat completions with tool calls assembled from their deltas, and
embeddings.  Failures become :class:`ModelError` with a sentence that is safe
to show a user (no keys, no tracebacks).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletion

# ModelError, clean_upstream_text and describe_api_error are part of this module's interface too.
from core.llm_errors import (  # noqa: F401
    ModelError,
    _is_timeout,
    clean_upstream_text,
    describe_api_error,
    is_transport_error,
    our_bug,
)
from core.model_names import ModelNames  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for; ``arguments`` is the raw JSON text it sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class ModelText:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ModelToolCalls:
    """The model finished this round by asking for these tool calls."""

    calls: tuple[ToolCall, ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class ModelFinished:
    """The stream ended normally."""

    finish_reason: str
    usage: Usage | None = None


ModelEvent = ModelText | ModelToolCalls | ModelFinished


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole (non-streamed) answer: its text, its usage and any fields the endpoint added.

    ``extra`` holds what the openai client keeps in ``model_extra`` (Perplexity's
    ``citations`` and ``search_results``).
    """

    text: str
    usage: Usage | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the transcription model heard; ``usage`` when the endpoint reports tokens."""

    text: str
    usage: Usage | None = None


class ChatModel(Protocol):
    """What the core needs of a language model (the OpenAI wrapper, or a test double in benchmarks)."""

    def stream_chat(
        self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] = (), model: str | None = None
    ) -> AsyncIterator[ModelEvent]: ...

    @property
    def chat_model_name(self) -> str: ...


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAIModel:
    """The assistant's model endpoint: chat streaming with tools, and embeddings.

    ``base_url`` may point at any OpenAI-compatible server (Ollama, vLLM, LM
    Studio, OpenRouter, Azure-style gateways).  The client's own retry handles
    408/409/429/5xx with backoff and ``retry-after``.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        models: ModelNames | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: AsyncOpenAI | None = None,
    ) -> None:
        self.models = models or ModelNames()
        self.base_url = base_url or OPENAI_DEFAULT_BASE_URL
        self.client = client or AsyncOpenAI(
            api_key=api_key, base_url=self.base_url, timeout=timeout, max_retries=max_retries
        )

    @property
    def chat_model_name(self) -> str:
        return self.models.chat

    async def stream_chat(
        self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] = (), model: str | None = None
    ) -> AsyncIterator[ModelEvent]:
        """Stream one completion: text pieces, then tool calls or the finish, with usage.

        ``model`` overrides the chat model (agents and summaries have their own role).
        Raises :class:`ModelError` for every failure, including a stream that breaks midway.
        """
        request: dict[str, Any] = {
            "model": model or self.models.chat,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            request["tools"] = list(tools)
        try:
            # Posted as it is: ``chat.completions.create`` first walks the whole request against the
            # SDK's typed dicts, about 0.45 ms a message (over 100 ms for a full context window),
            # for a body that is plain JSON already.
            # Chunks come as plain dicts (``AsyncStream[object]``): building the SDK's typed model of
            # each costs 0.2-0.5 ms, and 100 answers at once bring 4,000 chunks a second to the one
            # event loop, where turns that start at the same moment wait for it.
            stream = await self.client.post(
                "/chat/completions",
                body=request,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=AsyncStream[object],
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a ModelError
            raise describe_api_error(exc) from exc

        calls: dict[int, _PartialCall] = {}
        text_parts: list[str] = []
        finish_reason = ""
        usage: Usage | None = None
        try:
            async for chunk in stream:
                counted = chunk.get("usage")  # type: ignore[attr-defined]
                if counted:
                    usage = Usage(counted.get("prompt_tokens") or 0, counted.get("completion_tokens") or 0)
                for choice in chunk.get("choices") or ():  # type: ignore[attr-defined]
                    delta = choice.get("delta") or {}
                    content = delta.get("content")
                    if content:
                        text_parts.append(content)
                        yield ModelText(content)
                    for piece in delta.get("tool_calls") or ():
                        call = calls.setdefault(piece.get("index") or 0, _PartialCall())
                        if piece.get("id"):
                            call.id = piece["id"]
                        function = piece.get("function") or {}
                        if function.get("name"):
                            call.name = function["name"]
                        if function.get("arguments"):
                            call.arguments.append(function["arguments"])
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
        except Exception as exc:  # noqa: BLE001 - once the stream is open, any failure ends it
            if not is_transport_error(exc) and not _is_timeout(exc):
                raise our_bug(exc, doing="reading the model's answer") from exc
            if _is_timeout(exc):
                if not text_parts and not calls:
                    raise ModelError(
                        "timeout", "The model took too long to start answering.", detail=type(exc).__name__
                    ) from exc
                raise ModelError(
                    "timeout",
                    "The model stopped answering in the middle (it took too long).",
                    detail=type(exc).__name__,
                ) from exc
            raise ModelError(
                "broken_stream",
                "The connection to the model broke off in the middle of the answer.",
                detail=type(exc).__name__,
            ) from exc
        finally:
            await stream.close()

        if calls:
            assembled = tuple(
                ToolCall(id=c.id or f"call_{i}", name=c.name, arguments="".join(c.arguments))
                for i, c in sorted(calls.items())
            )
            yield ModelToolCalls(assembled, text="".join(text_parts))
        if not finish_reason:
            raise ModelError("broken_stream", "The model's answer ended without finishing; it may be incomplete.")
        yield ModelFinished(finish_reason, usage)

    async def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Embed each text; returns float32 vectors in the same order."""
        try:
            response = await self.client.embeddings.create(
                model=self.models.embedding, input=list(texts), encoding_format="base64"
            )
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        vectors: list[np.ndarray] = []
        for item in sorted(response.data, key=lambda d: d.index):
            raw = item.embedding
            if isinstance(raw, str):
                vectors.append(np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float32))
            else:
                vectors.append(np.asarray(raw, dtype=np.float32))
        return vectors

    async def generate_image(self, prompt: str, *, size: str = "1024x1024") -> bytes:
        """Make one image with the image model; returns PNG bytes."""
        try:
            response = await self.client.images.generate(model=self.models.image, prompt=prompt, size=size, n=1)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        item = response.data[0] if response.data else None
        if item is None or not item.b64_json:
            raise ModelError("bad_response", "The image service answered without an image.")
        return base64.b64decode(item.b64_json)

    def _client_for(self, timeout: float | None) -> AsyncOpenAI:
        return self.client if timeout is None else self.client.with_options(timeout=timeout)

    async def complete(
        self, messages: Sequence[dict[str, Any]], *, model: str | None = None, timeout: float | None = None
    ) -> Completion:
        """One non-streamed completion with ``model`` (default: the chat model), for agents.

        Raises :class:`ModelError` for every failure, a timeout after ``timeout`` seconds included.
        """
        try:
            response = await self._client_for(timeout).post(
                "/chat/completions",
                body={"model": model or self.models.chat, "messages": list(messages)},
                cast_to=ChatCompletion,
            )
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        usage = (
            Usage(response.usage.prompt_tokens or 0, response.usage.completion_tokens or 0) if response.usage else None
        )
        return Completion(text, usage, dict(response.model_extra or {}))

    async def transcribe(
        self, data: bytes, filename: str, *, content_type: str = "", timeout: float | None = None
    ) -> Transcript:
        """Transcribe one audio file with the transcription model."""
        upload = (filename, data, content_type) if content_type else (filename, data)
        try:
            response = await self._client_for(timeout).audio.transcriptions.create(
                model=self.models.transcription, file=upload
            )
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        reported = getattr(response, "usage", None)
        usage = None
        if reported is not None and getattr(reported, "type", "") == "tokens":
            usage = Usage(reported.input_tokens or 0, reported.output_tokens or 0)
        return Transcript(getattr(response, "text", "") or "", usage)

    async def speak(
        self, text: str, *, voice: str, response_format: str = "mp3", timeout: float | None = None
    ) -> bytes:
        """Read ``text`` aloud with the speech model; returns the audio bytes."""
        try:
            response = await self._client_for(timeout).audio.speech.create(
                model=self.models.speech,
                input=text,
                voice=voice,  # type: ignore[arg-type]
                response_format=response_format,  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        return response.content

    async def list_models(self) -> list[str]:
        """Names the endpoint serves; used by ``doctor`` to check the endpoint and key."""
        try:
            page = await self.client.models.list()
        except Exception as exc:  # noqa: BLE001
            raise describe_api_error(exc) from exc
        return [m.id async for m in page] if hasattr(page, "__aiter__") else [m.id for m in page.data]

    async def close(self) -> None:
        await self.client.close()
