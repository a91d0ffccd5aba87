"""The chat's WebSocket on the real uvicorn server, with a real WebSocket client (aiohttp).

The answer arrives in several frames through the same turn as every platform, status lines
included; Stop keeps what was said as partial; a dropped connection does not lose the answer;
a socket without the session, or opened by another site, is refused.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from sqlalchemy import text

from bot.web import WebServer
from bot.webapp.deps import web_place
from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls, topic_embedding
from tests.web_helpers import ADA, BOB, WebKit, chat_socket, frames_until, session_cookie


@pytest.fixture
async def served(database: Database, model: OpenAIModel) -> AsyncIterator[tuple[WebKit, WebServer]]:
    clock = ManualClock(TEST_NOW)
    kit = WebKit(database, make_chat_service(database, model, clock=clock), model, clock, public_url="http://unset")
    server = WebServer(kit.app, host="127.0.0.1", port=0)
    await server.start()
    kit.sessions.public_url = server.url
    try:
        yield kit, server
    finally:
        await server.stop()


async def _cookie(kit: WebKit, server: WebServer) -> str:
    return await session_cookie(kit.sessions, server)


async def test_an_answer_streams_in_several_frames_with_status_lines(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "6 * 7"})]),
        # At a model's pace: text that reaches the server in one burst goes to the browser as one frame.
        Reply("It is **42**, the answer to everything.", delay=0.05),
    )
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "what is 6 times 7?"})
        frames = await frames_until(ws, "done", "error")
    kinds = [f["type"] for f in frames]
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert len(deltas) >= 3 and "".join(deltas) == "It is **42**, the answer to everything."
    assert any(f["type"] == "status" and f["text"] for f in frames)  # the tool's line, shown while it works
    assert "<strong>42</strong>" in frames[-1]["html"]
    history = await kit.chat.history(web_place(await kit.user_id(ADA)))
    assert [m.role for m in history][-1] == "assistant"


async def test_the_done_frame_lists_the_memories_that_shaped_the_answer(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    openai_fake.embedder = topic_embedding
    ada = await kit.user_id(ADA)
    await kit.memory.store.remember(ada, "Ada keeps her boat moored in Brest harbour")
    await kit.memory.store.remember(ada, "Ada's favourite tea is lapsang souchong")
    kit.clock.advance(days=1)
    await kit.memory.store.remember(ada, "Ada's boat is now moored in Lorient harbour")  # the newer fact, noted later
    await kit.memory.store.remember(await kit.user_id(BOB), "Bob keeps his boat moored in Brest harbour")
    openai_fake.queue(Reply("In Lorient, by the harbour."), Reply("Eight."))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "Where is my boat moored?"})
        boat = (await frames_until(ws, "done", "error"))[-1]
        await ws.send_json({"type": "send", "text": "How many moons does Neptune have?"})
        neptune = (await frames_until(ws, "done", "error"))[-1]
    await kit.chat.tasks.wait_idle()
    stored = await kit.memory.shaped.of_answer(ada, boat["id"])
    assert boat["type"] == "done" and {m["text"] for m in boat["recalled"]} == {
        "Ada keeps her boat moored in Brest harbour",
        "Ada's boat is now moored in Lorient harbour",
    }  # Ada's own, never Bob's, nor the tea
    assert {m["when"] for m in boat["recalled"]} == {"2026-11-24", "2026-11-25"}
    assert [m["text"] for m in boat["recalled"]] == [m.text for m in stored]  # what a reload shows, in its order
    assert neptune["type"] == "done" and neptune["recalled"] == []


async def test_an_answer_whose_memories_cannot_be_read_still_completes(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    openai_fake.embedder = topic_embedding
    await kit.memory.store.remember(await kit.user_id(ADA), "Ada keeps her boat moored in Brest harbour")
    release = threading.Event()
    openai_fake.queue(Reply("In Brest, by the harbour.", hold=release))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "Where is my boat moored?"})
        for _ in range(1500):  # recall has run once the model is asked
            if any(body.get("stream") for body in openai_fake.chat_requests()):
                break
            await asyncio.sleep(0.02)
        async with kit.db.engine.begin() as conn:  # the memories are out of reach when the answer ends
            await conn.execute(text("ALTER TABLE memories RENAME TO memories_away"))
        try:
            release.set()
            frames = await frames_until(ws, "done", "error")
        finally:
            async with kit.db.engine.begin() as conn:
                await conn.execute(text("ALTER TABLE memories_away RENAME TO memories"))
    await kit.chat.tasks.wait_idle()  # the steps after the answer, tried again, find the memories back
    assert frames[-1]["type"] == "done" and "Brest" in frames[-1]["html"] and frames[-1]["recalled"] == []


async def test_an_answer_written_all_at_once_arrives_whole_and_once_before_done(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    answer = " ".join(f"word{n}" for n in range(300))
    openai_fake.queue(Reply(answer))  # 300 chunks with no pause: the socket falls behind and catches up
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "count for me"})
        frames = await frames_until(ws, "done", "error")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "started" and kinds[-1] == "done" and set(kinds[1:-1]) <= {"delta", "status"}
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == answer


async def test_stop_ends_the_answer_and_keeps_what_was_said(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    openai_fake.queue(Reply("Once upon a time there was a very long story indeed", delay=0.5))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "tell me a long story"})
        await frames_until(ws, "delta")  # the answer has begun
        await ws.send_json({"type": "stop"})
        frames = await frames_until(ws, "stopped", "done")
        openai_fake.queue(Reply("Yes."))
        await ws.send_json({"type": "send", "text": "still there?"})
        after = await frames_until(ws, "done", "error")
    assert frames[-1]["type"] == "stopped"
    assert after[-1]["type"] == "done" and "Yes." in after[-1]["html"]
    stored = [(m.content, m.status) for m in await kit.chat.history(web_place(await kit.user_id(ADA)))]
    assert stored[1][0].startswith("Once") and stored[1][1] == "partial"
    assert "long story indeed" not in stored[1][0]


async def test_a_dropped_connection_does_not_lose_the_answer(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    release = threading.Event()
    openai_fake.queue(Reply("Stored all the same.", hold=release))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session:
        async with chat_socket(session, server, cookie) as ws:
            await ws.send_json({"type": "send", "text": "hello"})
            await frames_until(ws, "started")
        release.set()  # the browser is gone (a reload); the model goes on
        async with httpx.AsyncClient(base_url=server.url, cookies={"captainslog_web": cookie}) as client:
            for _ in range(500):  # the answer is stored once the turn ends; no event reaches this client
                page = await client.get("/chat")
                if "Stored all the same." in page.text:
                    break
                await asyncio.sleep(0.02)
    assert "Stored all the same." in page.text and page.text.count("Stored all the same.") == 1


async def test_a_socket_without_the_session_or_from_another_site_is_refused(served: tuple[WebKit, WebServer]) -> None:
    kit, server = served
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with chat_socket(session, server, "not-a-session"):
                pass
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with chat_socket(session, server, cookie, origin="https://evil.example"):
                pass


async def test_a_reload_mid_answer_resumes_it_without_loss_or_repeat(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    text = "One two three four five six seven eight nine ten eleven twelve."
    openai_fake.queue(Reply(text, delay=0.1))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session:
        async with chat_socket(session, server, cookie) as ws:
            await ws.send_json({"type": "send", "text": "count to twelve"})
            before = await frames_until(ws, "delta")
            before += [await ws.receive_json()]  # a second piece: the answer is under way
        async with httpx.AsyncClient(base_url=server.url, cookies={"captainslog_web": cookie}) as client:
            page = await client.get("/chat")  # the reloaded page: the answer is not in it twice
        async with chat_socket(session, server, cookie) as ws:
            resumed = await frames_until(ws, "done", "error")
            busy = None
            await ws.send_json({"type": "send", "text": "and again"})
            openai_fake.queue(Reply("Again."))
            busy = await frames_until(ws, "done", "error")
    first = resumed[0]
    assert first["type"] == "resume" and first["id"] is not None
    shown_before = "".join(f["text"] for f in before if f["type"] == "delta")
    assert first["text"].startswith(shown_before) and shown_before
    after = "".join(f["text"] for f in resumed[1:] if f["type"] == "delta")
    assert first["text"] + after == text  # nothing lost, nothing twice
    assert resumed[-1]["type"] == "done" and "twelve" in resumed[-1]["html"]
    assert "One two" not in page.text and "count to twelve" in page.text
    assert busy is not None and busy[-1]["type"] == "done"


async def test_one_answer_at_a_time_per_person_across_tabs(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    kit, server = served
    openai_fake.queue(Reply("Slowly but surely we get there in the end.", delay=0.1))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session:
        async with chat_socket(session, server, cookie) as first, chat_socket(session, server, cookie) as second:
            await first.send_json({"type": "send", "text": "hello"})
            await frames_until(first, "delta")
            await second.send_json({"type": "send", "text": "hello from the other tab"})
            refused = await frames_until(second, "error")
            await second.send_json({"type": "stop"})  # any tab may stop it
            stopped = await frames_until(first, "stopped")
    assert "Wait for the answer" in refused[-1]["message"]
    assert stopped[-1]["type"] == "stopped"


async def test_an_open_socket_stops_answering_once_the_session_is_signed_out(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    """Sign out everywhere (a lost laptop) must end a chat left open there too, not only new requests."""
    kit, server = served
    openai_fake.queue(Reply("Before."))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "hello"})
        await frames_until(ws, "done", "error")
        await kit.sessions.sign_out_everywhere(await kit.user_id(ADA))
        await ws.send_json({"type": "send", "text": "read me my memories"})
        [refused] = await frames_until(ws, "done", "error")
        closed = await asyncio.wait_for(ws.receive(), 30)
    assert refused["type"] == "error" and "signed out" in refused["message"]
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert len(openai_fake.chat_requests()) == 1, "the second message reached no model"


async def test_an_attached_image_goes_to_the_vision_agent_and_bad_ones_are_refused(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    import base64

    from tests.fakes.openai_server import PNG_BYTES
    from tests.web_helpers import add_vision

    kit, server = served
    vision_model = add_vision(kit, openai_fake.base_url)
    openai_fake.queue(Reply("A young monstera with split leaves."), Reply("It's a monstera."))
    cookie = await _cookie(kit, server)
    photo = {"name": "plant.png", "type": "image/png", "data": base64.b64encode(PNG_BYTES).decode()}
    try:
        async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
            await ws.send_json({"type": "send", "text": "what plant is this?", "images": [photo]})
            frames = await frames_until(ws, "done", "error")
            await ws.send_json({"type": "send", "text": "x", "images": [{**photo, "type": "image/svg+xml"}]})
            svg = await frames_until(ws, "error")
            await ws.send_json({"type": "send", "text": "x", "images": [{**photo, "data": "not base64!"}]})
            garbled = await frames_until(ws, "error")
    finally:
        await vision_model.close()
    assert frames[-1]["type"] == "done" and "monstera" in frames[-1]["html"]
    assert any(f["type"] == "status" and "image" in f["text"].lower() for f in frames)
    looked = [r for r in openai_fake.chat_requests() if r.get("model") == "vision-test"]
    assert len(looked) == 1 and "data:image/" in str(looked[0]["messages"])
    assert "PNG, JPEG, WebP and GIF" in svg[-1]["message"] and "could not be read" in garbled[-1]["message"]


async def test_images_within_the_pages_limits_fit_in_one_socket_message(
    served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    """Four images under 10 MB each are allowed, base64 in one frame; uvicorn's default cap of 16 MiB per
    WebSocket message closed the socket (1009) as soon as two 7 MB photos were sent together."""
    import base64

    kit, server = served
    openai_fake.queue(Reply("Two big files."))
    cookie = await _cookie(kit, server)
    big = base64.b64encode(b"\x89PNG" + b"\x00" * 7_000_000).decode()  # 2 x 9.3 MB of base64: over 16 MiB
    images = [{"name": f"p{n}.png", "type": "image/png", "data": big} for n in range(2)]
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "look at these", "images": images})
        reply = await asyncio.wait_for(ws.receive(), 60)
        kind = reply.type
        await ws.send_json({"type": "stop"})
    assert kind == aiohttp.WSMsgType.TEXT, kind


async def test_a_command_typed_in_the_chat_is_run_and_anything_else_goes_to_the_model(
    served: tuple[WebKit, WebServer], model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    from core.commands import CommandSet
    from core.identity.profile import Profiles
    from tests.settings_helpers import every_setting

    kit, server = served
    kit.app.state.webapp.commands = CommandSet(kit.chat, model, every_setting(kit.chat, Profiles(kit.db)))
    openai_fake.queue(Reply("¯\\_(ツ)_/¯ indeed."))
    cookie = await _cookie(kit, server)
    async with aiohttp.ClientSession() as session, chat_socket(session, server, cookie) as ws:
        await ws.send_json({"type": "send", "text": "/settings timezone Asia/Tokyo"})
        [settings] = await frames_until(ws, "command", "error")
        await ws.send_json({"type": "send", "text": "/help"})
        [helped] = await frames_until(ws, "command", "error")
        asked_before = len(openai_fake.chat_requests())
        await ws.send_json({"type": "send", "text": "/shrug at the weather"})  # no such command: for the model
        answered = await frames_until(ws, "done", "error")

    assert settings["type"] == "command" and "Time zone set to Asia/Tokyo." in settings["text"]
    assert "<" not in settings["text"] and settings["html"].startswith("<p>")
    assert helped["type"] == "command" and "/settings" in helped["text"]
    assert asked_before == 0, "a command's reply never reaches the model"
    assert answered[-1]["type"] == "done" and "indeed" in answered[-1]["html"]
    assert (await kit.chat.people.admit(ADA)).user.timezone == "Asia/Tokyo"  # type: ignore[union-attr]
    history = await kit.chat.history(web_place(await kit.user_id(ADA)))
    assert [m.content for m in history if m.role == "user"] == ["/shrug at the weather"]  # commands not stored
