"""The ``search_memory`` tool: the model looks through everything the user said, and their memories."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.llm import ModelError
from core.memory.search import InView, MemorySearch
from core.timefmt import stamp
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

# Each hit's text is cut to this many characters: enough to answer from, cheap in tokens.
SNIPPET_CHARS = 600


class SearchMemoryTool(ToolBase):
    """Searches the asking user's messages (all conversations and platforms) and memories."""

    name = "search_memory"
    description = (
        "Search everything this user has said to you in past conversations, on every platform, and the facts you "
        "remember about them. Use it when the user refers to something from before. Returns the best matches with "
        "date, time, platform and speaker, or nothing when the topic never came up."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for, in the user's words."},
            "since": {"type": "string", "description": "Optional first day to search, YYYY-MM-DD (user's time zone)."},
            "until": {"type": "string", "description": "Optional last day to search, YYYY-MM-DD, inclusive."},
        },
        "required": ["query"],
    }
    status = "Searching memory…"
    private = True

    def __init__(self, search: MemorySearch, *, limit: int = 8, timeout: float = 10.0) -> None:
        self.search = search
        self.limit = limit
        self.timeout = timeout

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolInputError("give a query: the words to look for.")
        since = _day(arguments.get("since"), "since", context.timezone)
        until = _day(arguments.get("until"), "until", context.timezone)
        if until is not None:
            until += timedelta(days=1)  # the last day is included
        if since and until and since >= until:
            raise ToolInputError("'since' must be on or before 'until'.")
        # What the model already sees (the current question, the conversation's window) is not worth a slot.
        first = context.in_view_from or context.user_message_id
        in_view = InView(context.conversation_id, first) if first is not None else None
        try:
            hits = await self.search.search(
                context.user_id,
                query,
                limit=self.limit,
                since=since,
                until=until,
                timeout=self.timeout,
                in_view=in_view,
            )
        except ModelError as exc:
            return ToolResult(f"Error: memory search is unavailable right now ({exc.user_message})", is_error=True)
        if not hits:
            return "Nothing found in memory about that."
        lines = []
        for hit in hits:
            where = f" · {hit.platform}" if hit.platform else ""
            body = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS] + "…"
            if hit.before is not None:
                lines.append(
                    f"  (before: [{stamp(hit.before.created_at, context.timezone)} · {hit.before.speaker}] {hit.before.text})"
                )
            lines.append(f"[{stamp(hit.created_at, context.timezone)}{where} · {hit.speaker}] {body}")
            if hit.after is not None:
                lines.append(
                    f"  (after: [{stamp(hit.after.created_at, context.timezone)} · {hit.after.speaker}] {hit.after.text})"
                )
        return "\n".join(lines)


def _day(value: object, field: str, tz: ZoneInfo) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise ToolInputError(f"'{field}' must be a date like 2026-03-01, not {value!r}.") from None
    return datetime.combine(day, time(0), tzinfo=tz)


class ForgetMemoryTool(ToolBase):
    """Deletes the one memory that best matches what the user asked to forget ("forget that …")."""

    name = "forget_memory"
    description = (
        "Delete a fact you remember about this user, when they ask you to forget it. Give the fact in a few words; "
        "the closest remembered fact is deleted and returned, or nothing when no memory is close enough."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "fact": {"type": "string", "description": "The fact to forget, e.g. 'my sister lives in Lisbon'."}
        },
        "required": ["fact"],
    }
    status = "Forgetting…"
    private = True

    def __init__(self, search: MemorySearch, *, min_similarity: float = 0.5, timeout: float = 10.0) -> None:
        self.search = search
        self.min_similarity = min_similarity
        self.timeout = timeout

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        fact = str(arguments.get("fact") or "").strip()
        if not fact:
            raise ToolInputError("say which fact to forget.")
        try:
            hits = await self.search.search(context.user_id, fact, limit=1, kinds=("memory",), timeout=self.timeout)
        except ModelError as exc:
            return ToolResult(f"Error: memory is unavailable right now ({exc.user_message})", is_error=True)
        if not hits or hits[0].similarity < self.min_similarity:
            return "No remembered fact matches that closely; nothing was deleted. The user can see all with /memory."
        await self.search.store.forget_memory(context.user_id, hits[0].id)
        return f"Deleted the memory: {hits[0].text}"
