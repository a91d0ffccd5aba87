"""What the pages and the API show of stored rows: times in the person's zone, platform, links back."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from markupsafe import Markup, escape

from bot.webapp.deps import WebApp
from bot.webapp.markdown import to_html
from core.db.timeline import SummaryCard, TimelineEntry, daily_logs_of
from core.llm import ModelError
from core.memory.search import SearchHit
from core.memory.shaped import RecalledMemory

log = logging.getLogger(__name__)

__all__ = ["daily_logs_of", "entry_view", "hit_view", "link_back", "search_hits"]
SEARCH_FAILED = "Search is not available right now (the model could not read the words): "


def link_back(entry: TimelineEntry) -> str:
    """Where the message lives on its platform (a Discord jump link, a Slack permalink), or ""."""
    if not entry.platform_message_id:
        return ""
    if entry.platform == "discord":
        guild = "@me" if entry.workspace in ("dm", "global", "") else entry.workspace
        return f"https://discord.com/channels/{guild}/{entry.channel}/{entry.platform_message_id}"
    if entry.platform == "slack" and re.fullmatch(r"\d+\.\d+", entry.platform_message_id):
        return f"https://slack.com/archives/{entry.channel}/p{entry.platform_message_id.replace('.', '')}"
    return ""


def entry_view(entry: TimelineEntry, tz: tzinfo) -> dict[str, Any]:
    """A timeline entry for a template: deleted text is not shown, edits are marked."""
    return {
        "id": entry.id,
        "conversation_id": entry.conversation_id,
        "platform": entry.platform,
        "role": entry.role,
        "html": Markup("") if entry.deleted_at else to_html(entry.text),
        "when": f"{entry.created_at.astimezone(tz):%Y-%m-%d %H:%M}",
        "edited": entry.edited_at is not None,
        "deleted": entry.deleted_at is not None,
        "partial": entry.status in ("partial", "failed", "streaming"),
        "link": link_back(entry),
    }


def shaped_views(found: dict[int, list[RecalledMemory]], tz: tzinfo) -> dict[int, list[dict[str, Any]]]:
    """For each answer, the memories that shaped it, for the templates' ``shaped`` macro."""
    return {
        answer: [{"text": m.text, "when": f"{m.created_at.astimezone(tz):%Y-%m-%d}", "current": m.current} for m in ms]
        for answer, ms in found.items()
    }


def recalled_json(memories: list[RecalledMemory]) -> list[dict[str, Any]]:
    """The memories that shaped an answer, for the API (times in UTC, ISO 8601)."""
    return [
        {"id": m.id, "text": m.text, "created_at": m.created_at.isoformat(), "current": m.current} for m in memories
    ]


def entry_json(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline entry for the API (times in UTC, ISO 8601)."""
    return {
        "id": entry.id,
        "conversation_id": entry.conversation_id,
        "platform": entry.platform,
        "role": entry.role,
        "text": "" if entry.deleted_at else entry.text,
        "status": entry.status,
        "created_at": entry.created_at.isoformat(),
        "edited_at": entry.edited_at.isoformat() if entry.edited_at else None,
        "deleted": entry.deleted_at is not None,
        "link": link_back(entry),
    }


async def search_hits(
    web: WebApp,
    user_id: int,
    q: str,
    limit: int = 20,
    *,
    platform: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[SearchHit], str]:
    """The memory search's hits (of one platform, between two times), or a sentence saying why there are none."""
    if web.memory is None:
        return [], "Search is not set up on this assistant."
    try:
        # A platform is picked from more hits (the search ranks across all of them).
        wanted = limit * 4 if platform else limit
        hits = await web.memory.search.search(user_id, q, limit=wanted, since=since, until=until)
    except ModelError as exc:
        log.warning("web search failed: %s", exc)
        return [], SEARCH_FAILED + exc.user_message
    if platform:
        hits = [h for h in hits if h.platform == platform]
    return hits[:limit], ""


def day_range(since: str, until: str, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """From the start of ``since`` to the end of ``until`` (dates as YYYY-MM-DD, in ``tz``); ValueError if not dates."""
    try:
        start = datetime.combine(date.fromisoformat(since), time(), tzinfo=tz) if since else None
        end = datetime.combine(date.fromisoformat(until) + timedelta(days=1), time(), tzinfo=tz) if until else None
    except OverflowError as exc:  # 9999-12-31: its end is past the last date Python knows
        raise ValueError(str(exc)) from exc
    return start, end


def highlight(text: str, q: str) -> Markup:
    """``text`` escaped, with the query's words marked."""
    words = [w for w in q.split() if len(w) > 1][:10]
    safe = str(escape(text))
    if not words:
        return Markup(safe)  # noqa: S704  # escaped above
    pattern = re.compile("(" + "|".join(re.escape(str(escape(w))) for w in words) + ")", re.I)
    return Markup(pattern.sub(r"<mark>\1</mark>", safe))  # noqa: S704  # escaped above; only <mark> added


def hit_view(hit: SearchHit, tz: tzinfo, q: str, *, assistant: str) -> dict[str, Any]:
    """A search hit for a template, with a link into the timeline at the message; the assistant's own
    messages are signed with its name, as in the timeline and the chat."""
    jump = f"/timeline?start={hit.id}#m{hit.id}" if hit.kind == "message" else "/memories"
    return {
        "kind": hit.kind,
        "html": highlight(hit.text, q),
        "when": f"{hit.created_at.astimezone(tz):%Y-%m-%d %H:%M}",
        "platform": hit.platform,
        "speaker": assistant if hit.speaker == "assistant" else hit.speaker,
        "jump": jump,
    }


def summary_view(card: SummaryCard, tz: tzinfo) -> dict[str, Any]:
    """A summary card: its text, the span it covers, and a link to the first message it replaces."""
    return {
        "html": to_html(card.text),
        "span": f"{card.covers_from.astimezone(tz):%Y-%m-%d %H:%M} – {card.covers_to.astimezone(tz):%Y-%m-%d %H:%M}",
        "originals": f"/timeline?start={card.last_message_id}#m{card.first_message_id}",
        "first": card.first_message_id,
        "last": card.last_message_id,
    }
