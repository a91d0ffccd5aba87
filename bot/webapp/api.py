"""The REST API under ``/api/v1``: the same operations as the pages, as JSON, described by OpenAPI.

Authenticated by a personal access token (``Authorization: Bearer clt_…``) or the browser's
session (changes then need ``X-CSRF-Token``). Every id is looked up among the caller's own
rows: another person's id answers 404. ``/docs`` is a server-rendered page of the OpenAPI
document (``/api/v1/openapi.json``): Swagger UI would need inline script, which the CSP refuses.
"""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot.webapp import api_accounts, api_reminders, api_settings
from bot.webapp.deps import Before, RowId, WebApp, api_person, render, session_person, web_place, webapp
from bot.webapp.views import entry_json, recalled_json, search_hits
from core.daily.remake import NoSuchDay, RemakeRefused
from core.db.timeline import conversations_of, daily_logs_of, message_of, owns_conversation, timeline_page
from core.identity.web_sessions import WebUser
from core.llm import ModelError
from core.memory.shaped import memories_behind
from core.types import IncomingMessage, Refused, TurnDone, TurnError

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX, tags=["v1"])


class ChatRequest(BaseModel):
    text: str = Field(min_length=1, max_length=8000, description="The message to the assistant")


class ChatAnswer(BaseModel):
    answer_message_id: int | None
    text: str
    error: str | None = None
    recalled_memories: list[dict[str, Any]] = Field(default=[], description="The memories that shaped the answer")


@router.get("/conversations", summary="Your conversations on every platform, most recent first")
async def conversations(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "platform": c.platform,
            "created_at": c.created_at.isoformat(),
            "closed": c.closed_at is not None,
            "messages": c.messages,
            "last_at": c.last_at.isoformat() if c.last_at else None,
        }
        for c in await conversations_of(web.db, person.id)
    ]


@router.get("/conversations/{conversation_id}/messages", summary="A conversation's messages, newest first")
async def conversation_messages(
    conversation_id: RowId,
    before: Before = None,
    limit: int = Query(50, ge=1, le=200),
    web: WebApp = Depends(webapp),
    person: WebUser = Depends(api_person),
) -> dict[str, Any]:
    if not await owns_conversation(web.db, person.id, conversation_id):
        raise HTTPException(404, "No such conversation.")
    page = await timeline_page(web.db, person.id, before=before, limit=limit, conversation_id=conversation_id)
    return _page(page, limit)


@router.get("/messages", summary="Your timeline: messages of every platform, newest first (keyset pages)")
async def messages(
    before: Before = None,
    limit: int = Query(50, ge=1, le=200),
    platform: str | None = Query(None, description="discord, slack, terminal or web"),
    web: WebApp = Depends(webapp),
    person: WebUser = Depends(api_person),
) -> dict[str, Any]:
    return _page(await timeline_page(web.db, person.id, before=before, limit=limit, platform=platform), limit)


@router.get("/messages/{message_id}", summary="One of your messages")
async def message(message_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> dict:
    found = await message_of(web.db, person.id, message_id)
    if found is None:
        raise HTTPException(404, "No such message.")
    shaped = (await memories_behind(web.db, person.id, [found.id])).get(found.id, [])
    return {**entry_json(found), "recalled_memories": recalled_json(shaped)}


@router.get("/search", summary="Search your messages and memories (words and meaning)")
async def search(
    q: str = Query(..., min_length=1, max_length=500),
    limit: int = Query(20, ge=1, le=50),
    platform: str = Query("", description="discord, slack, terminal or web; empty: all"),
    since: datetime | None = Query(None, description="Only what was said from then on (ISO 8601; UTC if no offset)"),
    until: datetime | None = Query(None, description="Only what was said before then (ISO 8601; UTC if no offset)"),
    web: WebApp = Depends(webapp),
    person: WebUser = Depends(api_person),
) -> list[dict[str, Any]]:
    # A time without an offset is UTC, like every time the API returns (the database compares aware times only).
    since, until = (t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t for t in (since, until))
    hits, problem = await search_hits(web, person.id, q, limit, platform=platform, since=since, until=until)
    if problem:
        raise HTTPException(503, problem)
    return [
        {"kind": h.kind, "id": h.id, "text": h.text, "created_at": h.created_at.isoformat(), "platform": h.platform,
         "speaker": h.speaker, "score": round(h.score, 4)}
        for h in hits
    ]  # fmt: skip


@router.get("/memories", summary="What the assistant remembers about you, newest first")
async def memories(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    rows = await web.memory.store.list_memories(person.id) if web.memory is not None else []
    return [
        {"id": m.id, "text": m.text, "created_at": m.created_at.isoformat(), "updated_at": m.updated_at.isoformat(),
         "source_message_id": m.source_message_id}
        for m in rows
    ]  # fmt: skip


class MemoryText(BaseModel):
    text: str = Field(min_length=1, max_length=1000, description="What to remember")


@router.post("/memories", status_code=201, summary="Remember something, typed by hand")
async def add_memory(
    body: MemoryText, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    return await _stored(web, person, body.text, None)


@router.put("/memories/{memory_id}", summary="Change one memory (the new text replaces it)")
async def edit_memory(
    memory_id: int, body: MemoryText, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    mine = await web.memory.store.list_memories(person.id) if web.memory is not None else []
    if memory_id not in {m.id for m in mine}:
        raise HTTPException(404, "No such memory.")
    return await _stored(web, person, body.text, memory_id)


async def _stored(web: WebApp, person: WebUser, text: str, replaces: int | None) -> dict[str, Any]:
    if web.memory is None:
        raise HTTPException(404, "Long-term memory is not set up on this assistant.")
    try:
        done = await web.memory.store.remember(person.id, text, replaces=replaces)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except ModelError as exc:
        raise HTTPException(503, f"The memory could not be stored now: {exc.user_message}") from None
    m = done.memory
    return {"id": m.id, "text": m.text, "created_at": m.created_at.isoformat(), "action": done.action}


@router.delete("/memories/{memory_id}", status_code=204, summary="Forget one memory")
async def delete_memory(
    memory_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> Response:
    if web.memory is None or not await web.memory.store.forget_memory(person.id, memory_id):
        raise HTTPException(404, "No such memory.")
    return Response(status_code=204)


@router.get("/daily-logs", summary="Your daily logs, newest day first (summary, state, Drive link)")
async def daily_logs(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    return [
        {"day": d.day.isoformat(), "state": d.state, "summary": d.summary, "drive_link": d.drive_link}
        for d in await daily_logs_of(web.db, person.id)
    ]


@router.post("/daily-logs/{day}/again", summary="Make a day's log again: a new summary and PDF, the same Drive file")
async def daily_again(day: date, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> dict:
    if web.remake is None:
        raise HTTPException(404, "Daily logs are not set up on this assistant.")
    try:
        remade = await web.remake.remake(person.id, day)
    except NoSuchDay:
        raise HTTPException(404, "No log of that day.") from None
    except RemakeRefused as refused:
        raise HTTPException(409, str(refused)) from None
    return {"day": day.isoformat(), "summary": remade.summary, "drive_link": remade.drive_link}


@router.post("/chat", summary="Send a message in your web conversation and wait for the whole answer")
async def chat(body: ChatRequest, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> ChatAnswer:
    incoming = IncomingMessage(web_place(person.id), person.identity, body.text.strip(), web.chat.clock())
    async with aclosing(web.chat.turn(incoming)) as events:
        async for event in events:
            if isinstance(event, TurnDone):
                found = await web.memory.shaped.of_answer(person.id, event.answer_message_id) if web.memory else []
                return ChatAnswer(
                    answer_message_id=event.answer_message_id, text=event.text, recalled_memories=recalled_json(found)
                )
            if isinstance(event, (TurnError, Refused)):
                answer_id = event.answer_message_id if isinstance(event, TurnError) else None
                return ChatAnswer(answer_message_id=answer_id, text="", error=event.message)
    return ChatAnswer(answer_message_id=None, text="", error="The answer ended without text.")


def _page(entries: list[Any], limit: int) -> dict[str, Any]:
    items = [entry_json(e) for e in entries]
    return {"messages": items, "next_before": items[-1]["id"] if len(items) == limit else None}


def add_api(app: FastAPI) -> None:
    """The API's routes, its OpenAPI document and the ``/docs`` page."""
    app.include_router(router)
    app.include_router(api_accounts.router)
    app.include_router(api_settings.router)
    app.include_router(api_reminders.router)
    schema: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if not schema:
            schema.update(
                get_openapi(
                    title="CaptainsLog API",
                    version="1",
                    description="Authenticate with `Authorization: Bearer <personal access token>` "
                    "(made in the web app under Access tokens) or the browser session plus `X-CSRF-Token`.",
                    routes=[
                        *router.routes,
                        *api_accounts.router.routes,
                        *api_settings.router.routes,
                        *api_reminders.router.routes,
                    ],
                )
            )
        return schema

    @app.get(PREFIX + "/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(document())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request, person: WebUser | None = Depends(session_person)) -> Response:
        operations = [
            {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
             "params": [p["name"] for p in op.get("parameters", [])]}
            for path, item in document()["paths"].items()
            for method, op in item.items()
        ]  # fmt: skip
        return render(request, "docs.html", title="API", person=person, operations=operations)
