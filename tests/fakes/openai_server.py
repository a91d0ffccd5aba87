"""An OpenAI-compatible HTTP server on loopback, scripted by the tests.

Point the real client at it::

    with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.base_url)
        fake.queue(Reply("Hello there"), ToolCalls([("remember", {"note": "x"})]))
        ...

Chat completions pop scripted responses (:class:`Reply`, :class:`ToolCalls`,
:class:`Error`, :class:`Broken`, :class:`Hang`) from a FIFO queue; when the queue
is empty ``fake.default(request_json)`` answers (by default an echo).  Every
request is recorded in ``fake.requests`` and every streamed completion gets a
:class:`StreamRecord` in ``fake.stream_log`` with ``time.perf_counter()`` stamps
that benchmarks in the same process can compare with their own.

Retries: the real client retries 408, 409, 429 and 5xx answers (twice by
default, so up to three requests) and connection failures of non-streamed
requests.  Each retry is a new request that pops the NEXT scripted item, so a
test that wants a call to fail for good queues three :class:`Error` items (or
builds its client with ``max_retries=0``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.base import ThreadedServer

__all__ = [
    "Broken",
    "ChatScript",
    "DEFAULT_TRANSCRIPTION",
    "ENDPOINTS",
    "Error",
    "PNG_BYTES",
    "FakeOpenAI",
    "Hang",
    "RecordedRequest",
    "Reply",
    "StreamRecord",
    "ToolCalls",
    "echo_responder",
    "embed_text",
    "topic_embedding",
    "error_body",
    "split_words",
]

DEFAULT_TRANSCRIPTION = "hello from the fake transcription"
ENDPOINTS = ("chat", "embeddings", "images", "speech", "transcriptions")
# What /v1/models lists: the assistant's default model for each setting, as api.openai.com lists them.
SERVED_MODELS = ("gpt-4o-mini", "text-embedding-3-small", "gpt-image-1", "gpt-4o-mini-tts", "gpt-4o-mini-transcribe")

_WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def split_words(text: str) -> list[str]:
    """Split ``text`` into word pieces, each word with its following whitespace.

    Leading whitespace stays on the first piece, so ``"".join(pieces) == text``.
    """
    return _WORD_PIECE.findall(text)


# -- scripts --------------------------------------------------------------------


@dataclass
class Reply:
    """A text answer.

    ``chunks`` are the streamed content pieces (default: :func:`split_words` of
    ``text``).  ``first_delay`` is slept before the first content chunk and
    ``delay`` between chunks; a non-streamed request sleeps their total before
    answering.  ``usage`` is ``(prompt_tokens, completion_tokens)``; by default
    prompt tokens are the words in the request's messages and completion tokens
    the number of chunks.  ``extra`` is merged into the top level of a
    non-streamed completion (a search model's ``citations`` and ``search_results``).
    ``hold``, when given, is waited for (at most 30 s) before the first content chunk of a
    streamed answer: a test decides when the answer goes on.
    """

    text: str
    chunks: list[str] | None = None
    first_delay: float = 0.0
    delay: float = 0.0
    usage: tuple[int, int] | None = None
    finish_reason: str = "stop"
    extra: dict[str, Any] | None = None
    hold: threading.Event | None = None

    def __post_init__(self) -> None:
        if self.chunks is None:
            self.chunks = split_words(self.text)

    @classmethod
    def at_rate(cls, text: str, first_token_after: float = 0.3, words_per_second: float = 40.0) -> Reply:
        """A reply streamed one word at a time at a model-like pace."""
        return cls(text, first_delay=first_token_after, delay=1.0 / words_per_second)


@dataclass
class ToolCalls:
    """Function calls, streamed after the optional ``text``.

    ``calls`` are ``(name, arguments)``; a dict is JSON-encoded, a str is sent
    verbatim (to test invalid JSON).  Call ids are ``call_<n>`` with ``n`` counting
    up across the fake's life (until :meth:`FakeOpenAI.reset`), so ids never
    repeat within a conversation.  Arguments are streamed in at least two pieces.
    """

    calls: list[tuple[str, dict[str, Any] | str]]
    text: str = ""
    first_delay: float = 0.0


@dataclass
class Error:
    """Answer with HTTP ``status`` and an OpenAI error body.

    The real client retries 408/409/429/5xx (twice by default) and every retry
    pops the NEXT scripted item: queue three of them for a permanent failure.
    ``retry_after`` (seconds) becomes the ``retry-after`` header, which the client
    honours; keep it small in tests.  ``type`` defaults from the status.
    """

    status: int
    message: str = "Simulated error from the fake OpenAI server"
    retry_after: float | None = None
    code: str | None = None
    type: str | None = None


@dataclass
class Broken:
    """Stream ``after_chunks`` content chunks of ``text``, then drop the connection.

    No finish chunk and no ``[DONE]``: the real client (openai 3.54 / httpx2)
    raises ``openai.APIConnectionError`` while iterating the stream.  On a
    non-streamed request, a non-chat endpoint or with ``after_chunks=0`` the
    connection is dropped before any answer; the client then retries, popping the next item, and
    raises ``openai.APIConnectionError`` when retries run out.
    """

    text: str
    after_chunks: int


@dataclass
class Hang:
    """Sleep ``seconds`` before answering (to trigger client timeouts).

    Afterwards the request is answered by ``then`` if given, else as if the queue
    were empty (the default responder, or the endpoint's normal answer).  The
    sleep ends early when the client hangs up or the server stops.  Note that a
    timed-out request is retried by the client like any other failure.
    """

    seconds: float
    then: ChatScript | None = None


ChatScript = Reply | ToolCalls | Error | Broken | Hang


# -- records ----------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the fake received it.

    ``json`` is the parsed body (None if not JSON); ``form`` holds multipart
    fields (file fields as bytes); ``t`` is ``time.perf_counter()`` at arrival.
    """

    path: str
    json: Any
    headers: dict[str, str]
    t: float
    method: str = "POST"
    form: dict[str, str | bytes] | None = None


_REC = web.RequestKey("fake_openai_record", RecordedRequest)


@dataclass
class StreamRecord:
    """Timing of one streamed chat completion (``time.perf_counter()`` values).

    The record is appended when the stream starts and updated as it goes, so it
    is complete by the time the client has read ``[DONE]``.  ``first_content_t``
    and ``last_content_t`` are taken as the first / last
    non-empty content chunk is written (None if no text was sent); ``text`` is the text
    actually sent; ``completed`` is False for a :class:`Broken` stream or a
    client that hung up.
    """

    start_t: float
    text: str = ""
    chunks: int = 0
    first_content_t: float | None = None
    last_content_t: float | None = None
    content_times: list[float] = field(default_factory=list)  # as each non-empty content chunk is written
    end_t: float | None = None
    completed: bool = False
    tool_calls: int = 0


# -- deterministic payloads -------------------------------------------------------


def embed_text(text: str, dim: int = 64) -> list[float]:
    """Deterministic unit vector for ``text``.

    Each lower-cased word adds positive weights at three hashed positions, so
    identical texts get identical vectors and texts sharing a word always have a
    positive cosine similarity (all components are non-negative).  Values are
    rounded through float32 so that base64 and float answers agree exactly.
    """
    vec = [0.0] * dim
    words = _WORD.findall(text.lower()) or [text]
    for word in words:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=12).digest()
        for k in range(3):
            idx = int.from_bytes(digest[4 * k : 4 * k + 2], "little") % dim
            weight = 0.5 + digest[4 * k + 2] / 255.0
            vec[idx] += weight
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    packed = struct.pack(f"<{dim}f", *(v / norm for v in vec))
    return list(struct.unpack(f"<{dim}f", packed))


_FILLER = frozenset(
    "a an and are as at be but by did do does for from had has have he her his i if in is it its me my of on or our "
    "she so that the their them they this to was we were what when where which who will with you your".split()
)


def topic_embedding(text: str, dim: int = 256) -> list[float]:
    """A unit vector that carries meaning the way a bag of words does.

    Filler words are dropped and a word's trailing ``s`` is ignored; each
    remaining word adds +1 or -1 at two hashed positions, so texts about the
    same things are close and unrelated texts have a cosine near zero (unlike
    :func:`embed_text`, whose components are all positive).
    """
    vec = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        if word in _FILLER:
            continue
        stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
        digest = hashlib.blake2b(stem.encode("utf-8"), digest_size=8).digest()
        for k in range(2):
            idx = int.from_bytes(digest[4 * k : 4 * k + 3], "little") % dim
            vec[idx] += 1.0 if digest[4 * k + 3] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    packed = struct.pack(f"<{dim}f", *(v / norm for v in vec))
    return list(struct.unpack(f"<{dim}f", packed))


def _png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (30, 144, 255)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
    )


def _wav(seconds: float = 0.1, rate: int = 24000) -> bytes:
    data = b"\x00\x00" * int(rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def _mp3(frames: int = 5) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono: 417-byte frames; zeroed side
    # info means zero-length main data, i.e. silence that decoders accept.
    frame = b"\xff\xfb\x90\xc0" + b"\x00" * 413
    return frame * frames


PNG_BYTES = _png()
_SPEECH: dict[str, tuple[str, Callable[[], bytes]]] = {
    "mp3": ("audio/mpeg", _mp3),
    "wav": ("audio/wav", _wav),
    "pcm": ("audio/pcm", lambda: b"\x00\x00" * 2400),
    # No encoder for these without extra packages: WAV bytes under their type.
    "opus": ("audio/opus", _wav),
    "aac": ("audio/aac", _wav),
    "flac": ("audio/flac", _wav),
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    408: "timeout",
    409: "conflict",
    422: "invalid_request_error",
    429: "requests",
}


def error_body(status: int, message: str, code: str | None = None, type_: str | None = None) -> dict[str, Any]:
    """The JSON body OpenAI sends with an error status."""
    if type_ is None:
        type_ = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code is None and status == 429:
        code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": type_, "code": code, "param": None}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") in ("text", None)
        )
    return ""


def echo_responder(request_json: dict[str, Any]) -> ChatScript:
    """The default responder: ``"You said: " + <text of the last user message>``."""
    last = ""
    for message in request_json.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            last = _text_of(message.get("content"))
    return Reply("You said: " + last)


def _count_words(request_json: dict[str, Any] | None) -> int:
    if not request_json:
        return 0
    total = 0
    for message in request_json.get("messages") or []:
        if isinstance(message, dict):
            total += len(_text_of(message.get("content")).split())
    return total


def _split_arguments(arguments: str) -> list[str]:
    size = max(1, min(8, len(arguments) // 2))
    pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    while len(pieces) < 2:
        pieces.append("")
    return pieces


class _ClientGone(Exception):
    """The client closed the connection while we were streaming."""


# -- the server ---------------------------------------------------------------------


class FakeOpenAI(ThreadedServer):
    """OpenAI-compatible server for the real ``openai`` client.

    ``api_key``: when set, requests with another ``Authorization: Bearer`` get 401
    ``invalid_api_key``; None accepts anything.  ``embedding_dim``: length of the
    vectors from ``/v1/embeddings`` (a request's ``dimensions`` overrides it).

    Attributes: ``requests`` (list of :class:`RecordedRequest`), ``stream_log``
    (list of :class:`StreamRecord`), ``default`` (callable(request_json) ->
    script or str, used when the chat queue is empty), ``transcription_text``.
    All methods are safe to call from any thread.
    """

    def __init__(self, api_key: str | None = "sk-test", embedding_dim: int = 64) -> None:
        super().__init__()
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        self._lock = threading.Lock()
        self._queues: dict[str, deque[ChatScript]] = {name: deque() for name in ENDPOINTS}
        self.requests: list[RecordedRequest] = []
        self.stream_log: list[StreamRecord] = []
        self.default: Callable[[dict[str, Any]], ChatScript | str] = echo_responder
        self.transcription_text: str = DEFAULT_TRANSCRIPTION
        # How /v1/embeddings turns a text into a vector: (text, dim) -> floats.
        self.embedder: Callable[[str, int], list[float]] = embed_text
        self._call_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- public API ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The URL to give ``openai.AsyncOpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAI:
        """Start serving; returns self once the port is bound."""
        self._closing = False
        super().start()
        return self

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def queue(self, *scripts: ChatScript) -> None:
        """Append scripted answers for the next chat completion requests."""
        self.queue_for("chat", *scripts)

    def queue_for(self, endpoint: str, *scripts: ChatScript) -> None:
        """Append scripts for ``endpoint``: one of :data:`ENDPOINTS`.

        Non-chat endpoints accept :class:`Error`, :class:`Hang` and :class:`Broken`.
        """
        if endpoint not in self._queues:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        for script in scripts:
            allowed: tuple[type, ...] = (Error, Broken, Hang)
            if endpoint == "chat":
                allowed += (Reply, ToolCalls)
            if not isinstance(script, allowed):
                raise TypeError(f"{type(script).__name__} cannot be queued for {endpoint!r}")
        with self._lock:
            self._queues[endpoint].extend(scripts)

    def pending(self, endpoint: str = "chat") -> int:
        """How many scripted answers for ``endpoint`` have not been used yet."""
        with self._lock:
            return len(self._queues[endpoint])

    def reset(self) -> None:
        """Clear all queues, recorded requests, stream records and call ids; restore
        the echo responder and the default transcription text."""
        with self._lock:
            for q in self._queues.values():
                q.clear()
            self.requests.clear()
            self.stream_log.clear()
            self.default = echo_responder
            self.transcription_text = DEFAULT_TRANSCRIPTION
            self.embedder = embed_text
            self._call_ids = itertools.count(1)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat completion requests so far, oldest first."""
        with self._lock:
            return [r.json for r in self.requests if r.path == "/v1/chat/completions"]

    def images_sent(self) -> list[tuple[str, list[str]]]:
        """For each chat request that carried images: the text of its last user message and the image URLs."""
        sent = []
        for body in self.chat_requests():
            for message in reversed(body.get("messages") or []):
                if isinstance(message, dict) and message.get("role") == "user":
                    content = message.get("content")
                    parts = content if isinstance(content, list) else []
                    urls = [
                        part["image_url"]["url"]
                        for part in parts
                        if isinstance(part, dict) and part.get("type") == "image_url"
                    ]
                    if urls:
                        sent.append((_text_of(content), urls))
                    break
        return sent

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to ``path`` (e.g. ``/v1/audio/speech``), oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def last_messages(self) -> list[dict[str, Any]]:
        """The ``messages`` of the last chat completion request."""
        bodies = self.chat_requests()
        if not bodies:
            raise LookupError("no chat completion request recorded")
        return list(bodies[-1].get("messages") or [])

    # -- app -----------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_get("/v1/fake-images/{n}.png", self._image_file)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        return app

    async def _shutdown(self) -> None:
        # Handlers sleeping in Hang or long delays would hold up cleanup for its
        # 60 s grace period.
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        await super()._shutdown()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._record(request)
            if (
                self.api_key is not None
                and not request.path.startswith("/v1/fake-images/")
                and request.headers.get("Authorization") != f"Bearer {self.api_key}"
            ):
                return web.json_response(
                    error_body(401, "Incorrect API key provided", code="invalid_api_key"), status=401
                )
            try:
                return await handler(request)
            except web.HTTPNotFound:
                return web.json_response(error_body(404, f"Invalid URL ({request.method} {request.path})"), status=404)
            except web.HTTPMethodNotAllowed:
                return web.json_response(
                    error_body(405, f"Method {request.method} not allowed for {request.path}"), status=405
                )
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _record(self, request: web.Request) -> None:
        t = time.perf_counter()
        body: Any = None
        form: dict[str, str | bytes] | None = None
        if request.content_type.startswith("multipart/"):
            form = {}
            data = await request.post()
            for key, value in data.items():
                form[key] = value if isinstance(value, str) else value.file.read()
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        rec = RecordedRequest(request.path, body, dict(request.headers), t, request.method, form)
        request[_REC] = rec
        with self._lock:
            self.requests.append(rec)

    def _pop(self, endpoint: str) -> ChatScript | None:
        with self._lock:
            q = self._queues[endpoint]
            return q.popleft() if q else None

    async def _sleep(self, seconds: float, request: web.Request | None = None) -> None:
        deadline = time.perf_counter() + seconds
        while not self._closing:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            if request is not None and (request.transport is None or request.transport.is_closing()):
                return
            await asyncio.sleep(min(remaining, 0.05) if request is not None else remaining)

    async def _pre_script(
        self, request: web.Request, script: ChatScript | None, stream: bool = False
    ) -> web.StreamResponse | ChatScript | None:
        """Play Hang, Error and (unless ``stream``) Broken; returns a response, or
        the script still to be played (None: the normal answer)."""
        while isinstance(script, Hang):
            await self._sleep(script.seconds, request)
            script = script.then
        if isinstance(script, Error):
            return self._error_response(script)
        if isinstance(script, Broken) and not (stream and script.after_chunks > 0):
            self._abort(request)
            raise _ClientGone
        return script

    @staticmethod
    def _error_response(err: Error) -> web.Response:
        headers = {}
        if err.retry_after is not None:
            headers["retry-after"] = repr(float(err.retry_after))
        return web.json_response(
            error_body(err.status, err.message, err.code, err.type), status=err.status, headers=headers
        )

    @staticmethod
    def _abort(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.close()

    # -- chat ----------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = request[_REC].json or {}
        stream = bool(body.get("stream"))
        try:
            played = await self._pre_script(request, self._pop("chat"), stream)
        except _ClientGone:
            return web.Response(status=499)  # never reaches the client
        if isinstance(played, web.StreamResponse):
            return played
        if played is None:
            played = self.default(body)
            if isinstance(played, str):
                played = Reply(played)
            try:
                played = await self._pre_script(request, played, stream)
            except _ClientGone:
                return web.Response(status=499)
            if isinstance(played, web.StreamResponse):
                return played
            if played is None:
                raise RuntimeError("the default responder must return a script")
        assert isinstance(played, (Reply, ToolCalls, Broken))
        model = str(body.get("model") or "gpt-4o-mini")
        if stream:
            return await self._chat_stream(request, body, model, played)
        return await self._chat_once(body, model, played)

    async def _chat_once(self, body: dict[str, Any], model: str, script: Reply | ToolCalls | Broken) -> web.Response:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(script, Reply):
            chunks = script.chunks or []
            await self._sleep(script.first_delay + script.delay * max(0, len(chunks) - 1))
            message["content"] = script.text
            finish = script.finish_reason
            prompt, completion = script.usage or (_count_words(body), len(chunks))
        else:
            assert isinstance(script, ToolCalls)
            await self._sleep(script.first_delay)
            calls = self._calls(script)
            message["content"] = script.text or None
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
                for call_id, name, args in calls
            ]
            finish = "tool_calls"
            prompt = _count_words(body)
            completion = len(split_words(script.text)) + sum(1 + len(_split_arguments(c[2])) for c in calls)
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": _usage(prompt, completion),
            }
            | ((script.extra or {}) if isinstance(script, Reply) else {})
        )

    def _calls(self, script: ToolCalls) -> list[tuple[str, str, str]]:
        out = []
        for name, args in script.calls:
            with self._lock:
                n = next(self._call_ids)
            out.append((f"call_{n}", name, args if isinstance(args, str) else json.dumps(args)))
        return out

    async def _chat_stream(
        self, request: web.Request, body: dict[str, Any], model: str, script: Reply | ToolCalls | Broken
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        record = StreamRecord(start_t=time.perf_counter())
        with self._lock:
            self.stream_log.append(record)

        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)

        async def send(
            delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None
        ) -> None:
            payload: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                payload["usage"] = usage
            try:
                await resp.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            except (ConnectionError, RuntimeError) as exc:
                raise _ClientGone from exc

        async def send_text(piece: str) -> None:
            # Taken before the write: once written, the client may read the chunk before this thread runs again.
            now = time.perf_counter()
            await send({"content": piece})
            record.text += piece
            record.chunks += 1
            if piece:
                if record.first_content_t is None:
                    record.first_content_t = now
                record.last_content_t = now
                record.content_times.append(now)

        sent = 0
        try:
            await send({"role": "assistant", "content": ""})
            if isinstance(script, Broken):
                for piece in split_words(script.text)[: script.after_chunks]:
                    await send_text(piece)
                # Closing mid chunked body: openai 3.54 raises APIConnectionError
                # (httpx2 RemoteProtocolError "incomplete chunked read").
                self._abort(request)
                record.end_t = time.perf_counter()
                return resp
            if isinstance(script, Reply):
                if script.hold is not None:
                    await asyncio.to_thread(script.hold.wait, 30)
                for i, piece in enumerate(script.chunks or []):
                    await self._sleep(script.first_delay if i == 0 else script.delay)
                    await send_text(piece)
                    sent += 1
                finish = script.finish_reason
                prompt, completion = script.usage or (_count_words(body), sent)
            else:
                await self._sleep(script.first_delay)
                for piece in split_words(script.text):
                    await send_text(piece)
                    sent += 1
                for index, (call_id, name, args) in enumerate(self._calls(script)):
                    await send(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": call_id,
                                    "type": "function",
                                    "function": {"name": name, "arguments": ""},
                                }
                            ]
                        }
                    )
                    sent += 1
                    for piece in _split_arguments(args):
                        await send({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                        sent += 1
                    record.tool_calls += 1
                finish = "tool_calls"
                prompt, completion = _count_words(body), sent
            await send({}, finish)
            if include_usage:
                await send(None, usage=_usage(prompt, completion))
            try:
                await resp.write(b"data: [DONE]\n\n")
                record.completed = True
                await resp.write_eof()
            except (ConnectionError, RuntimeError) as exc:
                raise _ClientGone from exc
        except _ClientGone:
            pass
        record.end_t = time.perf_counter()
        return resp

    # -- other endpoints --------------------------------------------------------------
    async def _other(self, request: web.Request, endpoint: str) -> web.StreamResponse | None:
        try:
            played = await self._pre_script(request, self._pop(endpoint))
        except _ClientGone:
            return web.Response(status=499)
        return played if isinstance(played, web.StreamResponse) else None

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        early = await self._other(request, "embeddings")
        if early is not None:
            return early
        body: dict[str, Any] = request[_REC].json or {}
        raw = body.get("input")
        if raw is None:
            return web.json_response(error_body(400, "'input' is a required property"), status=400)
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            raw = [raw]
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in raw]
        dim = int(body.get("dimensions") or self.embedding_dim)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vec = self.embedder(text, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if as_base64 else vec
            data.append({"object": "embedding", "index": index, "embedding": emb})
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or "text-embedding-3-small",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _images(self, request: web.Request) -> web.StreamResponse:
        early = await self._other(request, "images")
        if early is not None:
            return early
        body: dict[str, Any] = request[_REC].json or {}
        prompt = body.get("prompt", "")
        n = int(body.get("n") or 1)
        item: dict[str, Any] = {"b64_json": base64.b64encode(PNG_BYTES).decode(), "revised_prompt": prompt}
        if body.get("response_format") == "url":
            item["url"] = f"{self.url}/v1/fake-images/0.png"
        return web.json_response({"created": int(time.time()), "data": [dict(item) for _ in range(n)]})

    async def _image_file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG_BYTES, content_type="image/png")

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        early = await self._other(request, "speech")
        if early is not None:
            return early
        body: dict[str, Any] = request[_REC].json or {}
        content_type, make = _SPEECH.get(str(body.get("response_format") or "mp3"), _SPEECH["mp3"])
        return web.Response(body=make(), headers={"Content-Type": content_type})

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        early = await self._other(request, "transcriptions")
        if early is not None:
            return early
        form = request[_REC].form or {}
        if "file" not in form:
            return web.json_response(error_body(400, "'file' is a required property"), status=400)
        fmt = form.get("response_format", "json")
        text = self.transcription_text
        if fmt in ("text", "srt", "vtt"):
            return web.Response(text=text, content_type="text/plain")
        if fmt == "verbose_json":
            return web.json_response(
                {"task": "transcribe", "language": "english", "duration": 1.0, "text": text, "segments": []}
            )
        return web.json_response({"text": text})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "list", "data": [_model(name) for name in SERVED_MODELS]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(_model(request.match_info["model"]))


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
