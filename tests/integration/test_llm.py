"""The OpenAI wrapper through the real openai client against the fake server."""

from __future__ import annotations

import logging
import sys
from types import FrameType

import aiohttp
import httpx
import numpy as np
import pytest

from core.llm import ModelError, ModelFinished, ModelNames, ModelText, ModelToolCalls, OpenAIModel, describe_api_error
from tests.fakes.openai_server import Error, FakeOpenAI, Hang, Reply, ToolCalls


async def collect(model: OpenAIModel, **kwargs: object) -> list[object]:
    return [event async for event in model.stream_chat([{"role": "user", "content": "hi"}], **kwargs)]  # type: ignore[arg-type]


async def test_text_usage_and_tool_calls_are_assembled_from_deltas(model: OpenAIModel, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(
        Reply("Hello, world", usage=(11, 3)),
        ToolCalls([("calculate", {"expression": "2+2"}), ("current_time", {})], text="Checking."),
    )

    first = await collect(model)
    second = await collect(model, tools=[{"type": "function", "function": {"name": "calculate", "parameters": {}}}])

    assert "".join(e.text for e in first if isinstance(e, ModelText)) == "Hello, world"
    assert first[-1] == ModelFinished("stop", usage=first[-1].usage) and first[-1].usage.prompt_tokens == 11  # type: ignore[union-attr]
    calls = next(e for e in second if isinstance(e, ModelToolCalls))
    assert [(c.name, c.arguments) for c in calls.calls] == [
        ("calculate", '{"expression": "2+2"}'),
        ("current_time", "{}"),
    ]
    assert calls.text == "Checking."
    assert openai_fake.chat_requests()[0]["stream_options"] == {"include_usage": True}


async def test_a_slow_endpoint_times_out_with_a_clear_sentence(openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(
        api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), timeout=0.3, max_retries=0
    )
    openai_fake.queue(Hang(3.0))

    with pytest.raises(ModelError) as caught:
        await collect(model)

    assert caught.value.kind == "timeout"
    assert caught.value.user_message == "The model service took too long to answer."
    await model.close()


async def test_an_unreachable_endpoint_names_the_setting_to_check() -> None:
    model = OpenAIModel(api_key="sk-test", base_url="http://127.0.0.1:9/v1", models=ModelNames(), max_retries=0)

    with pytest.raises(ModelError) as caught:
        await collect(model)

    assert caught.value.user_message == "The model service cannot be reached; check OPENAI_BASE_URL and the network."
    await model.close()


async def test_server_errors_are_retried_then_reported(openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=1)
    openai_fake.queue(Error(503, "overloaded", retry_after=0.01), Error(503, "overloaded", retry_after=0.01))

    with pytest.raises(ModelError) as caught:
        await collect(model)

    assert caught.value.user_message == "The model service failed (HTTP 503); try again shortly."
    assert len(openai_fake.chat_requests()) == 2
    await model.close()


async def test_embeddings_come_back_as_float32_vectors_in_order(model: OpenAIModel, openai_fake: FakeOpenAI) -> None:
    vectors = await model.embed(["the cat sat", "the cat sat", "quantum chromodynamics"])

    assert [v.dtype for v in vectors] == [np.float32] * 3
    assert vectors[0].shape == (openai_fake.embedding_dim,)
    assert np.allclose(vectors[0], vectors[1])
    assert float(vectors[0] @ vectors[2]) < float(vectors[0] @ vectors[1])


async def test_image_generation_returns_png_bytes(model: OpenAIModel) -> None:
    assert (await model.generate_image("a red square")).startswith(b"\x89PNG")


async def test_a_model_that_is_slow_to_say_its_first_word_is_reported_as_slow(openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(
        api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), timeout=0.3, max_retries=0
    )
    openai_fake.queue(Reply("late words", first_delay=3.0))
    try:
        with pytest.raises(ModelError) as caught:
            await collect(model)
    finally:
        await model.close()
    assert caught.value.kind == "timeout"
    assert caught.value.user_message == "The model took too long to start answering."


async def test_an_upstream_refusal_is_shown_short_and_without_request_data(openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=0)
    echoed = (
        'Invalid value at messages[1]: {"role": "user", "content": "my PIN is 4242"}; '
        "see https://example.org/docs?signature=abc and key sk-live-123456 " + "more words " * 40
    )
    openai_fake.queue(Error(400, echoed))
    try:
        with pytest.raises(ModelError) as caught:
            await collect(model)
    finally:
        await model.close()
    shown = caught.value.user_message
    assert shown.startswith("The model service could not take this request: Invalid value at messages…")
    for secret in ("4242", "signature", "sk-live", "example.org"):
        assert secret not in shown
    assert len(shown) < 300


async def test_a_long_context_goes_out_exactly_as_built_without_the_sdks_per_message_walk(
    model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    # The SDK's create() walks every message against its typed dicts first (0.45 ms a message:
    # 100 ms at a full context window); the request is plain JSON already and is posted as it is.
    messages: list[dict[str, object]] = [{"role": "system", "content": "Be brief."}]
    for n in range(240):
        messages.append({"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n} " + "word " * 50})
    messages.append({"role": "user", "content": [{"type": "text", "text": "and this picture?"}]})
    tools = [{"type": "function", "function": {"name": "calculate", "parameters": {"type": "object"}}}]
    openai_fake.queue(Reply("ok"), Reply("done"))
    walked: list[str] = []

    def watch(frame: FrameType, event: str, _: object) -> None:
        if event == "call" and frame.f_code.co_name in ("_async_transform_recursive", "_transform_recursive"):
            walked.append(frame.f_code.co_name)

    sys.setprofile(watch)
    try:
        events = [event async for event in model.stream_chat(messages, tools=tools)]
        completion = await model.complete(messages[:3])
    finally:
        sys.setprofile(None)

    assert "".join(e.text for e in events if isinstance(e, ModelText)) == "ok" and completion.text == "done"
    streamed, whole = openai_fake.chat_requests()
    assert streamed["messages"] == messages and streamed["tools"] == tools and streamed["stream"] is True
    assert whole["messages"] == messages[:3] and "stream" not in whole
    assert all(r.headers.get("Authorization") == "Bearer sk-test" for r in openai_fake.requests)
    assert walked == []


async def test_a_bug_of_ours_is_logged_with_its_traceback_and_not_blamed_on_the_network(
    model: OpenAIModel, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    # A message our code built wrong (an object where JSON is needed): the client raises a TypeError.
    broken = [{"role": "user", "content": object()}]

    with caplog.at_level(logging.ERROR, logger="core.llm_errors"), pytest.raises(ModelError) as streamed:
        [event async for event in model.stream_chat(broken)]  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="core.llm_errors"), pytest.raises(ModelError) as completed:
        await model.complete(broken)  # type: ignore[arg-type]

    for caught in (streamed, completed):
        assert caught.value.kind == "bug"
        assert caught.value.user_message == "Something went wrong on my side; it is in the log."
    bugs = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(bugs) == 2 and all(r.exc_info[0] is TypeError for r in bugs)  # type: ignore[index]
    assert "Traceback" in caplog.text and "broke off" not in caplog.text
    assert openai_fake.chat_requests() == [], "nothing was sent"


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ReadError("connection reset"), "broken_stream"),
        (ConnectionResetError("reset by peer"), "broken_stream"),
        (aiohttp.ServerDisconnectedError(), "broken_stream"),
        (TimeoutError(), "broken_stream"),
        (TypeError("'NoneType' object is not subscriptable"), "bug"),
        (KeyError("choices"), "bug"),
    ],
)
def test_only_network_and_api_failures_become_network_sentences(failure: Exception, kind: str) -> None:
    described = describe_api_error(failure)

    assert described.kind == kind
    if kind == "bug":
        assert described.user_message == "Something went wrong on my side; it is in the log."
    else:
        assert described.user_message == "The connection to the model broke off in the middle of the answer."
