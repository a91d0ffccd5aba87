"""The fake OpenAI server, exercised through the real ``openai.AsyncOpenAI`` client."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import (
    DEFAULT_TRANSCRIPTION,
    SERVED_MODELS,
    Broken,
    Error,
    FakeOpenAI,
    Hang,
    Reply,
    ToolCalls,
    split_words,
)

USER = [{"role": "user", "content": "hello fake"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


def client(fake: FakeOpenAI, **kwargs: Any) -> openai.AsyncOpenAI:
    """A real client aimed at the fake (use it as an async context manager)."""
    kwargs.setdefault("api_key", "sk-test")
    return openai.AsyncOpenAI(base_url=fake.base_url, **kwargs)


async def collect(stream: Any) -> tuple[str, list[Any]]:
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_split_words_keeps_every_character() -> None:
    text = "  Hello,  world!\n\nSecond line\twith tabs  "
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert len(pieces) == 6
    assert Reply(text).chunks == pieces


# -- chat: streaming -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_streamed_reply_reassembles_exactly(fake: FakeOpenAI) -> None:
    text = "Sure!  Here is a list:\n\n- one\n- two  \n"
    fake.queue(Reply(text))
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        got, chunks = await collect(stream)
    assert got == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-4o-mini" for c in chunks)
    record = fake.stream_log[-1]
    assert record.completed and record.text == text
    assert record.first_content_t is not None and record.last_content_t is not None
    assert record.first_content_t <= record.last_content_t
    assert fake.last_messages() == USER
    assert fake.chat_requests()[0]["stream"] is True


@pytest.mark.asyncio
async def test_usage_chunk_with_include_usage(fake: FakeOpenAI) -> None:
    fake.queue(Reply("three little words"), Reply("x", usage=(11, 22)))
    async with client(fake) as c:
        stream = await c.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        _, chunks = await collect(stream)
        last = chunks[-1]
        assert last.choices == []
        assert last.usage is not None
        assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (2, 3, 5)
        assert all(c.usage is None for c in chunks[:-1])

        stream = await c.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        _, chunks = await collect(stream)
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 33

        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        _, chunks = await collect(stream)
        assert all(c.usage is None and c.choices for c in chunks)


@pytest.mark.asyncio
async def test_tool_call_arguments_assembled_from_deltas(fake: FakeOpenAI) -> None:
    args = {"title": "Dentist", "when": "2025-03-01T10:00:00", "tags": ["health", "üñí"]}
    fake.queue(ToolCalls([("create_event", args), ("broken", '{"not json')], text="Let me check. "))
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        text = ""
        calls: dict[int, dict[str, Any]] = {}
        pieces: dict[int, int] = {}
        finish = None
        async for chunk in stream:
            choice = chunk.choices[0]
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                    assert tc.type == "function"
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
                    pieces[tc.index] = pieces.get(tc.index, 0) + 1
            finish = choice.finish_reason or finish
    assert text == "Let me check. "
    assert finish == "tool_calls"
    assert calls[0]["id"] == "call_1" and calls[1]["id"] == "call_2"
    assert calls[0]["name"] == "create_event"
    assert json.loads(calls[0]["arguments"]) == args
    assert calls[1]["arguments"] == '{"not json'
    assert pieces[0] >= 2 and pieces[1] >= 2


# -- chat: non-streaming ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_non_streamed_reply_tool_calls_and_echo(fake: FakeOpenAI) -> None:
    fake.queue(Reply("plain answer", usage=(3, 4)), ToolCalls([("search", {"q": "x"})]))
    async with client(fake) as c:
        r = await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert r.object == "chat.completion"
        assert r.choices[0].message.content == "plain answer"
        assert r.usage is not None and (r.usage.prompt_tokens, r.usage.completion_tokens) == (3, 4)

        r = await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert r.choices[0].finish_reason == "tool_calls"
        (call,) = r.choices[0].message.tool_calls or []
        assert call.function.name == "search" and json.loads(call.function.arguments) == {"q": "x"}

        parts = [{"role": "user", "content": [{"type": "text", "text": "part one, "}, {"type": "text", "text": "two"}]}]
        r = await c.chat.completions.create(model="gpt-4o-mini", messages=parts)
        assert r.choices[0].message.content == "You said: part one, two"

        fake.default = lambda body: Reply(f"{len(body['messages'])} messages")
        r = await c.chat.completions.create(model="gpt-4o-mini", messages=USER * 3)
        assert r.choices[0].message.content == "3 messages"
    assert fake.pending() == 0


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wrong_key_raises_authentication_error(fake: FakeOpenAI) -> None:
    async with client(fake, api_key="sk-wrong") as c:
        with pytest.raises(openai.AuthenticationError) as info:
            await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert len(fake.requests) == 1  # 401 is not retried


@pytest.mark.asyncio
async def test_429_is_retried_then_succeeds(fake: FakeOpenAI) -> None:
    fake.queue(Error(429, "Rate limit reached", retry_after=0.01), Reply("after the wait"))
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        text, _ = await collect(stream)
    assert text == "after the wait"
    assert len(fake.chat_requests()) == 2
    assert fake.pending() == 0


@pytest.mark.asyncio
async def test_three_500s_raise_internal_server_error(fake: FakeOpenAI) -> None:
    fake.queue(*[Error(500, "boom", retry_after=0.01)] * 3, Reply("never reached"))
    async with client(fake) as c:
        with pytest.raises(openai.InternalServerError) as info:
            await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.status_code == 500
    assert len(fake.chat_requests()) == 3
    assert fake.pending() == 1


@pytest.mark.asyncio
async def test_broken_stream_raises_connection_error(fake: FakeOpenAI) -> None:
    fake.queue(Broken("one two three four five", after_chunks=2))
    received = ""
    async with client(fake) as c:
        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        # Observed with openai 3.54 / httpx2: APIConnectionError caused by
        # RemoteProtocolError("... incomplete chunked read").
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                received += chunk.choices[0].delta.content or ""
    assert received == "one two "
    record = fake.stream_log[-1]
    assert record.text == "one two " and not record.completed


@pytest.mark.asyncio
async def test_hang_triggers_client_timeout(fake: FakeOpenAI) -> None:
    fake.queue(Hang(5.0))
    async with client(fake, max_retries=0, timeout=0.2) as c:
        started = time.perf_counter()
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert time.perf_counter() - started < 2.0


@pytest.mark.asyncio
async def test_unknown_path_and_models(fake: FakeOpenAI) -> None:
    async with client(fake) as c:
        models = await c.models.list()
        assert [m.id for m in models.data] == list(SERVED_MODELS)
        assert "gpt-4o-mini" in SERVED_MODELS
        with pytest.raises(openai.NotFoundError):
            await c.files.list()


# -- timing ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_at_rate_first_token_delay(fake: FakeOpenAI) -> None:
    fake.queue(Reply.at_rate("one two three four", first_token_after=0.2, words_per_second=100.0))
    async with client(fake) as c:
        sent = time.perf_counter()
        stream = await c.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        first_seen = None
        text = ""
        async for chunk in stream:
            content = chunk.choices[0].delta.content if chunk.choices else None
            if content and first_seen is None:
                first_seen = time.perf_counter()
            text += content or ""
    assert text == "one two three four"
    record = fake.stream_log[-1]
    assert first_seen is not None and record.first_content_t is not None and record.last_content_t is not None
    assert first_seen - sent >= 0.2
    assert sent + 0.2 <= record.first_content_t <= first_seen
    assert record.last_content_t - record.first_content_t >= 3 * 0.01 * 0.9


# -- other endpoints -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_embeddings_base64_and_float(fake: FakeOpenAI) -> None:
    texts = ["remember the dentist on Friday", "remember the dentist on Friday", "dentist appointment", "zebra"]
    async with client(fake) as c:
        r = await c.embeddings.create(model="text-embedding-3-small", input=texts)
        assert fake.requests[-1].json["encoding_format"] == "base64"  # the client's default
        vecs = [d.embedding for d in r.data]
        assert [len(v) for v in vecs] == [64] * 4
        assert vecs[0] == vecs[1]
        assert math.isclose(sum(x * x for x in vecs[0]), 1.0, rel_tol=1e-5)
        assert cosine(vecs[0], vecs[2]) > 0

        raw = await c.embeddings.create(model="text-embedding-3-small", input="zebra", encoding_format="base64")
        encoded = raw.data[0].embedding
        assert isinstance(encoded, str)
        decoded = list(struct.unpack("<64f", base64.b64decode(encoded)))
        assert decoded == vecs[3]

        floats = await c.embeddings.create(model="text-embedding-3-small", input="zebra", encoding_format="float")
        assert floats.data[0].embedding == vecs[3]


@pytest.mark.asyncio
async def test_embeddings_scripted_error(fake: FakeOpenAI) -> None:
    fake.queue_for("embeddings", Error(400, "bad input", code="invalid_input"))
    async with client(fake) as c:
        with pytest.raises(openai.BadRequestError):
            await c.embeddings.create(model="text-embedding-3-small", input="x")
        r = await c.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(r.data) == 1
    assert fake.pending("embeddings") == 0


@pytest.mark.asyncio
async def test_image_is_a_png(fake: FakeOpenAI) -> None:
    async with client(fake) as c:
        r = await c.images.generate(model="gpt-image-1", prompt="a lighthouse")
    assert r.data is not None
    png = base64.b64decode(r.data[0].b64_json or "")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    assert r.data[0].revised_prompt == "a lighthouse"


@pytest.mark.asyncio
async def test_speech_and_transcription(fake: FakeOpenAI) -> None:
    async with client(fake) as c:
        wav = await c.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="wav")
        assert wav.content.startswith(b"RIFF") and wav.response.headers["content-type"] == "audio/wav"
        mp3 = await c.audio.speech.create(model="tts-1", voice="alloy", input="hi")
        assert mp3.response.headers["content-type"] == "audio/mpeg"

        t = await c.audio.transcriptions.create(model="whisper-1", file=("note.wav", wav.content))
        assert t.text == DEFAULT_TRANSCRIPTION
        fake.transcription_text = "buy milk"
        t = await c.audio.transcriptions.create(model="whisper-1", file=("note.wav", wav.content))
        assert t.text == "buy milk"
    form = fake.requests[-1].form
    assert form is not None and form["model"] == "whisper-1" and form["file"] == wav.content


def test_reset_clears_everything(fake: FakeOpenAI) -> None:
    fake.queue(Reply("a"), Reply("b"))
    fake.queue_for("images", Error(500))
    fake.default = lambda body: Reply("custom")
    assert fake.pending() == 2 and fake.pending("images") == 1
    fake.reset()
    assert fake.pending() == 0 and fake.pending("images") == 0
    assert fake.requests == [] and fake.stream_log == []
    with pytest.raises(LookupError):
        fake.last_messages()
    with pytest.raises(TypeError):
        fake.queue_for("embeddings", Reply("not for embeddings"))
