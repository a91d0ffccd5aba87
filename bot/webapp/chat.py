"""The chat page and its WebSocket: the same turn as every platform, streamed as JSON frames.

Client → server: ``{"type": "send", "text": …, "images": [{"name", "type", "data" (base64)}]}``,
``{"type": "stop"}``, ``{"type": "press", "action": …}`` (a button under a ``spoken`` message). Images go to the vision agent like a photo sent on Discord.
Server → client: ``started``, ``delta`` (text), ``status`` (a line such as "Searching the web…"),
``done`` (the final text as sanitized HTML, and ``recalled``: the memories that shaped it, as listed
under it after a reload), ``error`` (a message for the person), ``stopped``, ``spoken`` (a message
the assistant sends by itself, such as a reminder, as sanitized HTML with its ``buttons``:
bot/webapp/messenger.py), ``pressed`` (what a button's command replied: ``action``, ``text``), ``command``
(the reply to a command typed in the chat, such as /reminders: ``html``, ``text``; shown, not stored),
and ``resume`` (the text so far) when the socket opens while an answer is being written
(bot/webapp/live.py): a reload or a dropped connection picks the answer up where it was.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from contextlib import aclosing
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError

from bot.webapp.deps import COOKIE, WebApp, page_person, render, web_place, webapp
from bot.webapp.live import LiveAnswer
from bot.webapp.markdown import to_html
from bot.webapp.pages import zone_of
from bot.webapp.sender import FrameSender
from bot.webapp.views import shaped_views
from core.buttons import parse_action
from core.commands import CommandRequest, options_from_line
from core.identity.web_sessions import WebUser
from core.memory.shaped import memories_behind
from core.types import (
    Attachment,
    AttachmentKind,
    IncomingMessage,
    Refused,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnStarted,
)

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
MAX_TEXT = 8000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 10_000_000  # decoded; the vision agent shrinks what it sends (core/media/safe_image.py)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
# The largest send frame the limits above allow (base64 is 4/3 of the bytes), plus room for names and JSON;
# the web server's per-message WebSocket cap (bot/web.py), 16 MiB by default in uvicorn.
MAX_FRAME_BYTES = MAX_IMAGES * (MAX_IMAGE_BYTES * 4 // 3 + 4) + 4 * MAX_TEXT + 64 * 1024
SIGNED_OUT = "You are signed out. Reload the page and sign in again with a new link (/account in the chat)."
BUSY = "Wait for the answer to finish (or press Stop) before sending the next message."


@router.get("/chat")
async def chat_page(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    history = await web.chat.history(web_place(person.id), limit=50)
    writing = web.live.answer_ids()  # shown by the page's script as it streams on, not twice
    messages = [
        {"id": m.id, "role": m.role, "html": to_html(m.content)}
        for m in history
        if m.role in ("user", "assistant") and m.content.strip() and m.id not in writing
    ]
    answers = [m["id"] for m in messages if m["role"] == "assistant"]
    shaped_by = shaped_views(await memories_behind(web.db, person.id, answers), await zone_of(person, web))
    return render(
        request, "chat.html", title="Chat", page="chat", person=person, messages=messages, shaped_by=shaped_by
    )


def images_of(sent: object) -> tuple[tuple[Attachment, ...], str]:
    """The images of a ``send`` frame (``[{name, type, data: base64}]``), or a sentence saying what is wrong."""
    if not sent:
        return (), ""
    if not isinstance(sent, list) or len(sent) > MAX_IMAGES:
        return (), f"Send at most {MAX_IMAGES} images with one message."
    images = []
    for item in sent:
        kind = str(item.get("type", "")) if isinstance(item, dict) else ""
        if kind not in IMAGE_TYPES:
            return (), "Only PNG, JPEG, WebP and GIF images can be attached."
        try:
            data = base64.b64decode(str(item.get("data", "")), validate=True)
        except (ValueError, binascii.Error):
            return (), "An image could not be read; nothing was sent."
        if not data or len(data) > MAX_IMAGE_BYTES:
            return (), f"Each image must be under {MAX_IMAGE_BYTES // 1_000_000} MB; nothing was sent."
        name = str(item.get("name", "image"))[:100] or "image"
        images.append(Attachment(AttachmentKind.IMAGE, name, kind, data))
    return tuple(images), ""


async def answer(
    live: LiveAnswer, *, web: WebApp, person: WebUser, text: str, images: tuple[Attachment, ...] = ()
) -> None:
    """Run one turn and hand its events, as frames, to whoever watches ``live``."""
    incoming = IncomingMessage(
        conversation=web_place(person.id),
        author=person.identity,
        text=text,
        received_at=web.chat.clock(),
        attachments=images,
    )
    try:
        async with aclosing(web.chat.turn(incoming)) as events:
            async for event in events:
                if isinstance(event, TurnStarted):
                    await live.emit({"type": "started", "id": event.answer_message_id})
                elif isinstance(event, TextDelta):
                    await live.emit({"type": "delta", "text": event.text})
                elif isinstance(event, StatusUpdate):
                    await live.emit({"type": "status", "text": event.text})
                elif isinstance(event, TurnDone):
                    html, recalled = (
                        str(to_html(event.text)),
                        await recalled_views(web, person, event.answer_message_id),
                    )
                    await live.emit({"type": "done", "id": event.answer_message_id, "html": html, "recalled": recalled})
                elif isinstance(event, (TurnError, Refused)):
                    await live.emit({"type": "error", "message": event.message})
    except asyncio.CancelledError:
        await live.emit({"type": "stopped"})
        raise
    except Exception:
        log.exception("web chat turn failed for user %s", person.id)
        await live.emit({"type": "error", "message": "Something went wrong on our side; the answer stopped."})


async def recalled_views(web: WebApp, person: WebUser, answer_id: int) -> list[dict[str, Any]]:
    """The memories that shaped a finished answer, as the page lists them under it (the ``done`` frame's)."""
    try:
        found = await web.memory.shaped.of_answer(person.id, answer_id) if web.memory is not None else []
    except SQLAlchemyError:  # the answer is complete and stored: its list is a help, never a reason to fail it
        log.warning("web chat: the memories behind answer %s could not be read", answer_id, exc_info=True)
        return []
    return shaped_views({answer_id: found}, await zone_of(person, web))[answer_id] if found else []


async def pressed(web: WebApp, person: WebUser, action: str) -> dict[str, Any]:
    """Run the command of a pressed button (a reminder's Snooze), as the person typing it would on any
    platform (access checked by the command set); the ``pressed`` frame with its reply."""
    parsed = parse_action(action)
    if parsed is None or web.commands is None:
        return {"type": "error", "message": "That button does nothing here."}
    name, argument = parsed
    command = web.commands.commands.get(name)
    options = options_from_line(command, argument) if command is not None else {}
    reply = await web.commands.run(name, CommandRequest(person.identity, web_place(person.id), options))
    return {"type": "pressed", "action": action, "text": reply.text}


async def typed_command(web: WebApp, person: WebUser, text: str) -> dict[str, Any] | None:
    """``/reminders``, ``/settings timezone Asia/Tokyo``… typed in the chat: the command's reply as a ``command``
    frame, shown to the person alone like a command's reply on any platform (not stored, not sent to the
    model). None when the first word names no command: the text goes to the model as written."""
    name, _, argument = text[1:].partition(" ")
    command = web.commands.commands.get(name.lower()) if web.commands is not None and name else None
    if command is None:
        return None
    options = options_from_line(command, argument.strip())
    reply = await web.commands.run(command.name, CommandRequest(person.identity, web_place(person.id), options))
    shown = reply.text
    if reply.files:
        names = ", ".join(file.filename for file in reply.files)
        shown += f"\n\n({names}: files a command makes come in a chat on Discord, Slack or the terminal.)"
    return {"type": "command", "html": str(to_html(shown)), "text": shown}


def _same_origin(ws: WebSocket) -> bool:
    """A page of this site opened the socket (browsers always send Origin on a WebSocket)."""
    origin = ws.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == ws.headers.get("host")


@router.websocket("/ws/chat")
async def chat_socket(ws: WebSocket) -> None:
    web: WebApp | None = getattr(ws.app.state, "webapp", None)
    person = await web.sessions.session(ws.cookies.get(COOKIE)) if web is not None else None
    if web is None or person is None or not _same_origin(ws):
        await ws.close(code=1008)
        return
    await ws.accept()
    socket = FrameSender(ws)
    # An answer still being written continues here (a reload); pushes stop when this session signs out.
    await web.live.join(person.id, socket, ws.cookies.get(COOKIE))
    try:
        while True:
            frame = await ws.receive_json()
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind in ("send", "press") and await web.sessions.session(ws.cookies.get(COOKIE)) is None:
                socket.put({"type": "error", "message": SIGNED_OUT})  # signed out since the socket opened
                await socket.flush()
                await ws.close(code=1008)
                return
            if kind == "send":
                text = str(frame.get("text", "")).strip()[:MAX_TEXT]
                images, problem = images_of(frame.get("images"))
                if problem:
                    socket.put({"type": "error", "message": problem})
                    continue
                if text.startswith("/") and not images and (replied := await typed_command(web, person, text)):
                    socket.put(replied)
                    continue
                run = partial(answer, web=web, person=person, text=text, images=images)
                if (text or images) and not web.live.start(person.id, socket, run):
                    socket.put({"type": "error", "message": BUSY})
            elif kind == "stop":
                await web.live.stop(person.id)
            elif kind == "press":
                socket.put(await pressed(web, person, str(frame.get("action", ""))))
    except (WebSocketDisconnect, ValueError):
        pass
    finally:
        web.live.leave(person.id, socket)  # the answer, if any, goes on and is stored
        await socket.close()
