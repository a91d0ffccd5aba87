"""The read pages (they work without JavaScript): timeline, search, memories, daily logs and access tokens.

Every id in a path or form is looked up among the signed-in person's own rows: another
person's id answers 404, like an id that does not exist.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.settings_page import read_form
from bot.webapp.deps import HEADERS, Before, RowId, Start, WebApp, checked_form, page_person, render, webapp
from bot.webapp.markdown import to_html
from bot.webapp.views import (
    daily_logs_of,
    day_range,
    entry_view,
    hit_view,
    search_hits,
    shaped_views,
    summary_view,
)
from core.daily.remake import NoSuchDay, RemakeRefused
from core.db.timeline import newer_start, newest_id_before, summaries_ending_at, timeline_page
from core.identity.web_sessions import WebUser
from core.llm import ModelError
from core.memory.shaped import memories_behind

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
PAGE = 50
MAX_MEMORY = 1000
PLATFORMS = ("discord", "slack", "terminal", "web")
STALE = (
    "The form could not be checked (it was old or not sent from this page), so nothing changed. Reload and try again."
)


async def zone_of(person: WebUser, web: WebApp) -> ZoneInfo:
    """The person's time zone (the assistant's default when unset or unknown)."""
    try:
        return ZoneInfo(await web.chat.user_timezone(person.identity))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@router.get("/timeline")
async def timeline(
    request: Request,
    before: Before = None,
    start: Start = None,
    platform: str = "",
    day: str = "",
    web: WebApp = Depends(webapp),
    person: WebUser = Depends(page_person),
) -> Response:
    chosen = platform if platform in PLATFORMS else ""
    tz = await zone_of(person, web)
    problem, none_then = "", False
    if day:  # jump to a date: the page starts with that day's last message
        try:
            end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), tzinfo=tz)
            before, start = None, await newest_id_before(web.db, person.id, end)
            none_then = start is None
        except (ValueError, OverflowError):  # not a date, or 9999-12-31 (its end is past the last date)
            problem = "That is not a date; use the date picker or YYYY-MM-DD."
    entries = [] if none_then else await timeline_page(
        web.db, person.id, before=before, start=start if before is None else None, limit=PAGE + 1,
        platform=chosen or None,
    )  # fmt: skip
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    older = f"/timeline?before={entries[-1].id}" + (f"&platform={chosen}" if chosen else "") if more else ""
    newer = ""  # a page opened further back (a search hit, a date, older pages) leads back up to the newest
    if entries and (before is not None or start is not None):
        above = await newer_start(web.db, person.id, entries[0].id, PAGE, platform=chosen or None)
        newer = f"/timeline?start={above}" + (f"&platform={chosen}" if chosen else "") if above else ""
    cards: dict[int, list[dict[str, object]]] = {}
    if entries:
        for card in await summaries_ending_at(web.db, person.id, [e.id for e in entries]):
            cards.setdefault(card.last_message_id, []).append(summary_view(card, tz))
    answers = [e.id for e in entries if e.role == "assistant"]
    shaped_by = shaped_views(await memories_behind(web.db, person.id, answers), tz)
    return render(
        request, "timeline.html", title="Timeline", page="timeline", person=person,
        entries=[entry_view(e, tz) for e in entries], older=older, newer=newer, platforms=PLATFORMS, chosen=chosen,
        cards=cards, day=day, problem=problem, shaped_by=shaped_by, paged=not day and (before or start) is not None,
    )  # fmt: skip


@router.get("/search")
async def search(
    request: Request,
    q: str = "",
    platform: str = "",
    since: str = "",
    until: str = "",
    web: WebApp = Depends(webapp),
    person: WebUser = Depends(page_person),
) -> Response:
    q = q.strip()[:500]
    chosen = platform if platform in PLATFORMS else ""
    tz = await zone_of(person, web)
    hits, problem = [], ""
    try:
        start, end = day_range(since, until, tz)
    except ValueError:
        problem = "The dates must be YYYY-MM-DD (the date pickers write them so)."
    else:
        if q:
            hits, problem = await search_hits(web, person.id, q, platform=chosen, since=start, until=end)
    return render(
        request, "search.html", title="Search", page="search", person=person, q=q, platforms=PLATFORMS,
        chosen=chosen, since=since, until=until, problem=problem, available=web.memory is not None,
        hits=[hit_view(h, tz, q, assistant=web.assistant_name) for h in hits],
    )  # fmt: skip


@router.get("/memories")
async def memories(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    rows = await web.memory.store.list_memories(person.id) if web.memory is not None else []
    tz = await zone_of(person, web)
    items = [{"id": m.id, "text": m.text, "when": f"{m.updated_at.astimezone(tz):%Y-%m-%d %H:%M}",
              "source": m.source_message_id} for m in rows]  # fmt: skip
    notice = "Memory deleted." if request.query_params.get("deleted") else ""
    notice = "Memory saved." if request.query_params.get("saved") else notice
    return render(
        request, "memories.html", title="Memories", page="memories", person=person, items=items,
        available=web.memory is not None, notice=notice,
    )  # fmt: skip


@router.post("/memories/{memory_id}/delete")
async def delete_memory(
    memory_id: RowId, request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    if not checked_form(person, await read_form(request)):
        return render(request, "message.html", 403, title="Not deleted", text=STALE, person=person)
    if web.memory is None or not await web.memory.store.forget_memory(person.id, memory_id):
        raise HTTPException(404, "No such memory.")
    return RedirectResponse("/memories?deleted=1", status_code=303, headers=HEADERS)


async def _remember(web: WebApp, person: WebUser, text: str, replaces: int | None) -> str:
    """Store a memory typed by hand (replacing ``replaces``); "" or why it was not stored."""
    text = " ".join(text.split())[:MAX_MEMORY]
    if not text:
        return "A memory needs some text."
    if web.memory is None:
        return "Long-term memory is not set up on this assistant."
    try:
        await web.memory.store.remember(person.id, text, replaces=replaces)
    except ModelError as exc:
        log.warning("web app: a memory could not be stored: %s", exc)
        return f"The memory could not be stored now: {exc.user_message}"
    return ""


async def owned_memory(web: WebApp, person: WebUser, memory_id: int) -> None:
    """404 unless ``memory_id`` is one of the person's current memories."""
    mine = await web.memory.store.list_memories(person.id) if web.memory is not None else []
    if memory_id not in {m.id for m in mine}:
        raise HTTPException(404, "No such memory.")


@router.post("/memories")
async def add_memory(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return render(request, "message.html", 403, title="Not saved", text=STALE, person=person)
    problem = await _remember(web, person, form.get("text", ""), None)
    if problem:
        return render(request, "message.html", 400, title="Not saved", text=problem, person=person)
    return RedirectResponse("/memories?saved=1", status_code=303, headers=HEADERS)


@router.post("/memories/{memory_id}/edit")
async def edit_memory(
    memory_id: int, request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return render(request, "message.html", 403, title="Not saved", text=STALE, person=person)
    await owned_memory(web, person, memory_id)
    problem = await _remember(web, person, form.get("text", ""), memory_id)
    if problem:
        return render(request, "message.html", 400, title="Not saved", text=problem, person=person)
    return RedirectResponse("/memories?saved=1", status_code=303, headers=HEADERS)


@router.get("/daily")
async def daily(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    logs = await daily_logs_of(web.db, person.id)
    days = [{"day": d.day.isoformat(), "state": d.state, "summary": to_html(d.summary or ""),
             "drive": d.drive_link or ""} for d in logs]  # fmt: skip
    remade = request.query_params.get("remade", "")
    notice = ""
    if remade in {d["day"] for d in days}:  # only one of the listed days: the address cannot put words here
        notice = f"The log of {remade} was made again: a new summary and PDF (and the Drive file)."
    return render(
        request, "daily.html", title="Daily logs", page="daily", person=person, days=days,
        pdf=web.day_pdf is not None, again=web.remake is not None, notice=notice,
    )  # fmt: skip


@router.post("/daily/{day}/again")
async def daily_again(
    day: date, request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    """Make the day again (summary, PDF, the Drive file): the person's own days only."""
    if not checked_form(person, await read_form(request)):
        return render(request, "message.html", 403, title="Not made again", text=STALE, person=person)
    if web.remake is None:
        raise HTTPException(404, "Daily logs are not set up on this assistant.")
    try:
        await web.remake.remake(person.id, day)
    except NoSuchDay:
        raise HTTPException(404, "No log of that day.") from None
    except RemakeRefused as refused:
        log.info("web app: the log of %s for user %s was not made again: %s", day, person.id, refused)
        return render(request, "message.html", 409, title="Not made again", text=str(refused), person=person)
    return RedirectResponse(f"/daily?remade={day.isoformat()}", status_code=303, headers=HEADERS)


@router.get("/daily/{day}.pdf")
async def daily_pdf(day: date, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    data = await web.day_pdf(person.id, day) if web.day_pdf is not None else None
    if data is None:
        raise HTTPException(404, "No PDF of that day.")
    headers = dict(HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{day.isoformat()}.pdf"'
    return Response(data, media_type="application/pdf", headers=headers)


@router.get("/tokens")
async def tokens(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    return render(
        request, "tokens.html", title="Access tokens", page="tokens", person=person,
        tokens=await web.tokens.list(person.id), new="",
    )  # fmt: skip


@router.post("/tokens")
async def create_token(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return render(request, "message.html", 403, title="Not created", text=STALE, person=person)
    raw = await web.tokens.create(person.id, person.identity, form.get("name", ""))
    return render(
        request, "tokens.html", title="Access tokens", page="tokens", person=person,
        tokens=await web.tokens.list(person.id), new=raw,
    )  # fmt: skip


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(
    token_id: RowId, request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    if not checked_form(person, await read_form(request)):
        return render(request, "message.html", 403, title="Not revoked", text=STALE, person=person)
    if not await web.tokens.revoke(person.id, token_id):
        raise HTTPException(404, "No such token.")
    return RedirectResponse("/tokens", status_code=303, headers=HEADERS)
