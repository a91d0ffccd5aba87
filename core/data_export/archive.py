"""One person's export written as a zip: JSON for machines, Markdown by conversation and day for people."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from core.data_export.collect import ExportedConversation, PersonExport
from core.timefmt import stamp, zone

README = """Everything CaptainsLog stores about you, exported on {when}.

profile.json          your name, email, time zone and settings, and your linked accounts
conversations/*.json  every conversation with every message (times in UTC, ISO 8601), and the summaries
                      that stand for old parts of it (each names the first and last message it covers)
conversations/*/      the same conversations as readable Markdown, one file per day (your local time)
memories.json         what the assistant remembered about you, with the message it came from
reminders.json        your reminders: text, local time and zone, recurrence (RRULE), state, next time
daily/                each day's summary (daily.json, and DAY.md), and the day's PDF where one is kept
files/                images and audio you sent or the assistant made

Other people's words in shared threads are left out: they are theirs. Secrets (Google tokens) are never
exported. Summaries and memories were written by the assistant; the messages are what was said.
"""

PdfLoader = Callable[[date], bytes | None]


def write_archive(export: PersonExport, *, now: datetime, load_pdf: PdfLoader | None = None) -> bytes:
    """The zip of ``export``; ``load_pdf`` gives the kept PDF of a day, if any."""
    tz = zone(export.timezone)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(when=stamp(now, tz)))
        archive.writestr("profile.json", _json({"profile": export.profile, "accounts": export.accounts}))
        for conversation in export.conversations:
            base = f"conversations/{conversation.id}-{_slug(conversation.platform)}"
            archive.writestr(f"{base}.json", _json(asdict(conversation)))
            for day, text in _markdown_days(conversation, tz):
                archive.writestr(f"{base}/{day.isoformat()}.md", text)
        archive.writestr("memories.json", _json(export.memories))
        archive.writestr("reminders.json", _json(export.reminders))
        archive.writestr("daily/daily.json", _json(export.daily_logs))
        for log in export.daily_logs:
            if log["summary"]:
                archive.writestr(f"daily/{log['day'].isoformat()}.md", log["summary"])
            pdf = load_pdf(log["day"]) if load_pdf is not None else None
            if pdf:
                archive.writestr(f"daily/{log['day'].isoformat()}.pdf", pdf)
        for file in export.files:
            archive.writestr(f"files/{file.id}-{_slug(file.filename)}", file.data)
    return buffer.getvalue()


def _markdown_days(conversation: ExportedConversation, tz: Any) -> list[tuple[date, str]]:
    days = []
    title = f"{conversation.platform} conversation {conversation.id}"
    for day, messages in groupby(conversation.messages, key=lambda m: m.created_at.astimezone(tz).date()):
        lines = [f"# {title}, {day.isoformat()}", ""]
        for message in messages:
            who = "You" if message.role == "user" else "Assistant" if message.role == "assistant" else message.role
            marks = []
            if message.deleted:
                marks.append("deleted")
            elif message.edited_at is not None:
                marks.append("edited")
            if message.status not in ("complete", ""):
                marks.append(message.status)
            note = f" _({', '.join(marks)})_" if marks else ""
            lines += [f"**{who}**, {stamp(message.created_at, tz)}{note}", "", message.content or "", ""]
        days.append((day, "\n".join(lines)))
    return days


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    raise TypeError(f"{type(value).__name__} is not exported")


def _slug(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "file"
    return cleaned[:100]
