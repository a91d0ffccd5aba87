"""The Slack fake, exercised through the real slack_sdk and slack_bolt clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import FakeSlack, SlackLimits


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A fresh fake per test, so rate-limit windows and records start empty."""
    with FakeSlack() as server:
        yield server  # type: ignore[misc]


def web_client(fake: FakeSlack, token: str | None = None) -> AsyncWebClient:
    """A real AsyncWebClient pointed at the fake."""
    return AsyncWebClient(token=token or fake.bot_token, base_url=fake.api_url)


# -- Web API -------------------------------------------------------------------------


async def test_auth_test_fields(fake: FakeSlack) -> None:
    resp = await web_client(fake).auth_test()
    assert resp["ok"] is True
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert resp["is_enterprise_install"] is False
    assert fake.log[-1].method == "auth.test" and fake.log[-1].ok


async def test_bad_token_and_unknown_method(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as bad:
        await web_client(fake, token="xoxb-wrong").auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token:
        await web_client(fake).apps_connections_open(app_token=fake.bot_token)
    assert app_token.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as unknown:
        await web_client(fake).api_call("chat.frobnicate", json={"channel": "C1"})
    assert unknown.value.response["error"] == "unknown_method"


async def test_post_update_and_queries() -> None:
    with FakeSlack(limits=SlackLimits(post_per_second_per_channel=None)) as fake:
        await _post_update_and_queries(fake)


async def _post_update_and_queries(fake: FakeSlack) -> None:
    client = web_client(fake)
    posted = await client.chat_postMessage(channel="C100", text="first draft")
    ts = posted["ts"]
    assert posted["channel"] == "C100" and posted["message"]["text"] == "first draft"
    second = await client.chat_postMessage(channel="C200", text="other")
    assert float(second["ts"]) > float(ts)

    updated = await client.chat_update(channel="C100", ts=ts, text="final")
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C100", ts, "final")
    msg = fake.message("C100", ts)
    assert msg is not None and msg.text == "final" and msg.is_bot and msg.edited
    assert [m.text for m in fake.channel_messages("C100")] == ["final"]

    history = await client.conversations_history(channel="C100")
    assert [m["text"] for m in history["messages"]] == ["final"]
    reply = await client.chat_postMessage(channel="C100", text="in thread", thread_ts=ts)
    replies = await client.conversations_replies(channel="C100", ts=ts)
    assert [m["ts"] for m in replies["messages"]] == [ts, reply["ts"]]

    dm = await client.conversations_open(users="U0042")
    assert dm["channel"]["id"] == fake.dm_channel("U0042")
    assert (await client.conversations_open(users="U0042"))["channel"]["id"] == dm["channel"]["id"]
    user = (await client.users_info(user="U0042"))["user"]
    assert user["id"] == "U0042" and user["tz"] == "Europe/Paris" and "email" in user["profile"]

    await client.reactions_add(channel="C100", timestamp=ts, name="eyes")
    assert fake.reactions == [("C100", ts, "eyes")]
    await client.chat_delete(channel="C100", ts=reply["ts"])
    assert fake.message("C100", reply["ts"]) is None

    await client.assistant_threads_setStatus(channel_id="D1", thread_ts=ts, status="is thinking...")
    assert fake.statuses[-1].status == "is thinking..."
    methods = [e.method for e in fake.log]
    assert methods.count("chat.postMessage") == 3 and "chat.update" in methods


async def test_update_over_4000_chars_is_msg_too_long(fake: FakeSlack) -> None:
    client = web_client(fake)
    ts = (await client.chat_postMessage(channel="C1", text="x" * 39_000))["ts"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=ts, text="y" * 4001)
    assert err.value.response["error"] == "msg_too_long"
    await client.chat_update(channel="C1", ts=ts, text="y" * 4000)
    with pytest.raises(SlackApiError) as post:
        await client.chat_postMessage(channel="C2", text="z" * 40_001)
    assert post.value.response["error"] == "msg_too_long"
    assert fake.log[-1].error == "msg_too_long" and fake.log[-1].status == 200


async def test_51st_update_in_a_minute_gets_429(fake: FakeSlack) -> None:
    client = web_client(fake)
    ts = (await client.chat_postMessage(channel="C1", text="0"))["ts"]
    for i in range(50):
        await client.chat_update(channel="C1", ts=ts, text=str(i))
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=ts, text="one too many")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    retry_after = int(err.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert len(fake.rate_limited) == 1 and fake.rate_limited[0].method == "chat.update"
    assert fake.log[-1].status == 429 and fake.log[-1].retry_after == retry_after
    assert fake.message("C1", ts).text == "49"  # type: ignore[union-attr]
    fake.reset_limits()
    await client.chat_update(channel="C1", ts=ts, text="after reset")


async def test_post_is_limited_per_channel(fake: FakeSlack) -> None:
    client = web_client(fake)
    await client.chat_postMessage(channel="C1", text="a")
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="b")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="C2", text="other channel is fine")
    await asyncio.sleep(1.05)
    await client.chat_postMessage(channel="C1", text="c")
    assert [m.text for m in fake.channel_messages("C1")] == ["a", "c"]


async def test_post_burst_and_disabled_limits() -> None:
    limits = SlackLimits(post_burst=3, update_per_minute=None)
    with FakeSlack(limits=limits) as fake:
        client = web_client(fake)
        for i in range(3):
            await client.chat_postMessage(channel="C1", text=str(i))
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C1", text="3")
        ts = fake.channel_messages("C1")[0].ts
        for i in range(60):
            await client.chat_update(channel="C1", ts=ts, text=str(i))
        assert fake.rate_limited[-1].method == "chat.postMessage"


async def test_files_upload_v2_end_to_end(fake: FakeSlack) -> None:
    client = web_client(fake)
    resp = await client.files_upload_v2(
        channel="D0001",
        thread_ts="1700000000.000100",
        content=b"%PDF-1.4 fake",
        filename="report.pdf",
        title="Weekly report",
        initial_comment="here it is",
    )
    assert resp["file"]["name"] == "report.pdf"
    [upload] = fake.uploads
    assert (upload.filename, upload.content, upload.channel) == ("report.pdf", b"%PDF-1.4 fake", "D0001")
    assert (upload.thread_ts, upload.title, upload.initial_comment) == (
        "1700000000.000100",
        "Weekly report",
        "here it is",
    )
    [shared] = fake.channel_messages("D0001")
    assert shared.is_bot and shared.files[0]["id"] == upload.file_id and shared.text == "here it is"
    methods = [e.method for e in fake.log]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_chat_stream_helper_and_update_of_streaming_message(fake: FakeSlack) -> None:
    client = web_client(fake)
    streamer = await client.chat_stream(
        channel="C1",
        thread_ts="1700000000.000100",
        recipient_team_id="T0001",
        recipient_user_id="U0001",
        buffer_size=10,
    )
    await streamer.append(markdown_text="Hello")  # buffered, no call yet
    assert not fake.calls("chat.startStream")
    await streamer.append(markdown_text=" streaming ")  # flushes: startStream
    await streamer.append(markdown_text="world, and more")  # flushes: appendStream
    ts = streamer.ts
    assert ts is not None
    live = fake.message("C1", ts)
    assert live is not None and live.streaming and live.text == "Hello streaming world, and more"
    assert live.recipient_user_id == "U0001" and live.thread_ts == "1700000000.000100"

    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts=ts, text="nope")
    assert err.value.response["error"] == "cant_update_message"

    stopped = await streamer.stop(markdown_text="!")
    assert stopped["message"]["text"] == "Hello streaming world, and more!"
    final = fake.message("C1", ts)
    assert final is not None and not final.streaming
    with pytest.raises(SlackApiError) as late:
        await client.chat_appendStream(channel="C1", ts=ts, markdown_text="late")
    assert late.value.response["error"] == "message_not_in_streaming_state"
    await client.chat_update(channel="C1", ts=ts, text="edited after the stream")
    assert [e.method for e in fake.log if e.method.startswith("chat.")][:3] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.update",
    ]


async def test_stream_start_stop_limit(fake: FakeSlack) -> None:
    client = web_client(fake)
    for i in range(20):
        await client.chat_startStream(channel="C1", thread_ts="1.000001", markdown_text=str(i))
    with pytest.raises(SlackApiError) as err:
        await client.chat_startStream(channel="C1", thread_ts="1.000001", markdown_text="x")
    assert err.value.response.status_code == 429
    # chat.stopStream has a window of its own
    ts = fake.channel_messages("C1")[0].ts
    await client.chat_stopStream(channel="C1", ts=ts)


# -- Socket Mode through Bolt ------------------------------------------------------------


async def test_bolt_socket_mode_events_commands_and_edits(fake: FakeSlack) -> None:
    client = web_client(fake)
    app = AsyncApp(client=client)
    seen: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        if event.get("subtype") is None:
            await say(text=f"echo: {event['text']}")

    mentions: list[dict[str, Any]] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        mentions.append(event)

    @app.command("/log")
    async def on_log(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack(f"noted: {command['text']}")
        await respond("saved for later")

    handler = AsyncSocketModeHandler(app, fake.app_token, web_client=client)
    try:
        await handler.connect_async()
        await fake.await_for(lambda: fake.connected_clients() == 1)

        event = fake.user_sends_dm("U0001", "hello bot")
        assert event["channel"] == fake.dm_channel("U0001") and event["channel_type"] == "im"
        ack = await fake.await_ack(fake.envelope_for_event(event))
        assert ack.payload is None
        await fake.await_for(lambda: len(fake.channel_messages("DU0001")) == 2)
        assert seen[0]["text"] == "hello bot"
        user_msg, reply = fake.channel_messages("DU0001")
        assert (user_msg.user, reply.text, reply.is_bot) == ("U0001", "echo: hello bot", True)

        envelope = fake.slash_command("U0001", "/log", "buy milk")
        ack = await fake.await_ack(envelope)
        assert ack.payload == {"text": "noted: buy milk"}
        posts = await fake.await_for(lambda: fake.response_url_posts)
        assert posts[0].body["text"] == "saved for later"

        changed = fake.user_edits("DU0001", user_msg.ts, "hello bot, edited")
        await fake.await_for(lambda: any(e.get("subtype") == "message_changed" for e in seen))
        got = next(e for e in seen if e.get("subtype") == "message_changed")
        assert got["message"]["text"] == "hello bot, edited"
        assert got["previous_message"]["text"] == "hello bot"
        await fake.await_ack(fake.envelope_for_event(changed))

        deleted = fake.user_deletes("DU0001", user_msg.ts)
        await fake.await_ack(fake.envelope_for_event(deleted))
        assert any(e.get("deleted_ts") == user_msg.ts for e in seen)

        mention = fake.user_mentions_bot("C777", "U0002", "what's up?")
        assert mention["type"] == "app_mention" and mention["text"].startswith("<@UBOT>")
        await fake.await_for(lambda: mentions and any(e.get("channel") == "C777" for e in seen))
        assert mentions[0]["user"] == "U0002"
    finally:
        await handler.close_async()
    await fake.await_for(lambda: fake.connected_clients() == 0)


async def test_envelopes_queue_until_a_client_connects_and_pings_are_answered(fake: FakeSlack) -> None:
    client = web_client(fake)
    app = AsyncApp(client=client)
    seen: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        seen.append(event)

    event = fake.user_sends_in_thread("C1", "U0001", "early bird", thread_ts="1700000000.000100")
    assert event["thread_ts"] == "1700000000.000100" and event["channel_type"] == "channel"
    handler = AsyncSocketModeHandler(app, fake.app_token, web_client=client, ping_interval=0.3)
    try:
        started = time.time()
        await handler.connect_async()
        await fake.await_ack(fake.envelope_for_event(event))
        assert seen[0]["text"] == "early bird"
        await asyncio.sleep(1.0)
        last_pong = handler.client.last_ping_pong_time
        assert last_pong is not None and last_pong > started
        assert await handler.client.is_connected()
        assert fake.connections_total == 1

        fake.disconnect_clients()
        await fake.await_for(lambda: fake.connections_total == 2 and fake.connected_clients() == 1)
        again = fake.user_sends_dm("U0001", "after reconnect")
        await fake.await_ack(fake.envelope_for_event(again))
    finally:
        await handler.close_async()


async def test_shared_files_need_the_bot_token(fake: FakeSlack) -> None:
    event = fake.user_sends_dm("U0001", "see attached", files=[("notes.txt", b"hi there", "text/plain")])
    assert event["subtype"] == "file_share"
    url = event["files"][0]["url_private_download"]
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as anonymous:
            assert anonymous.status == 403
        headers = {"Authorization": f"Bearer {fake.bot_token}"}
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 200 and await resp.read() == b"hi there"


def test_signed_request_matches_slack_sdk_verifier(fake: FakeSlack) -> None:
    body = fake.event_body(user_id="U0001", text="over http")
    headers = fake.signed_request("s3cret", body)
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    form = fake.slash_command_body("U0001", "/log", "x")
    assert verifier.is_valid_request(form, fake.signed_request("s3cret", form))
    assert fake.channel_messages("DU0001")[0].text == "over http"


async def test_blocks_are_checked_and_a_button_press_arrives_as_block_actions(fake: FakeSlack) -> None:
    client = web_client(fake)
    button = {"type": "button", "text": {"type": "plain_text", "text": "Snooze"}, "action_id": "snooze"}
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(
            channel="U0002", text="x", blocks=[{"type": "actions", "elements": [button, button]}]
        )
    assert refused.value.response["error"] == "invalid_blocks"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "pick one"}},
              {"type": "actions", "block_id": "b1", "elements": [button]}]  # fmt: skip
    posted = await client.chat_postMessage(channel="U0001", text="pick one", blocks=blocks)
    channel, ts = str(posted["channel"]), str(posted["ts"])
    with pytest.raises(LookupError):
        fake.press_button("U0001", channel, ts, "not-there")

    app = AsyncApp(client=client)
    pressed: list[dict[str, Any]] = []

    @app.action("snooze")
    async def on_snooze(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        pressed.append(body)
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text="snoozed", blocks=[])

    handler = AsyncSocketModeHandler(app, fake.app_token, web_client=client)
    try:
        await handler.connect_async()
        await fake.await_for(lambda: fake.connected_clients() == 1)
        envelope = fake.press_button("U0001", channel, ts, "snooze")
        await fake.await_ack(envelope)
        await fake.await_for(lambda: fake.texts(channel) == ["snoozed"])
    finally:
        await handler.close_async()
    assert envelope["type"] == "interactive" and pressed[0]["type"] == "block_actions"
    assert (pressed[0]["actions"][0]["action_id"], pressed[0]["user"]["id"]) == ("snooze", "U0001")
    with pytest.raises(LookupError):
        fake.press_button("U0001", channel, ts, "snooze")  # the buttons are gone
