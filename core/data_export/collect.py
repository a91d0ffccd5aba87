"""Everything stored about one person, read from the database as plain records.

What a person may ask for under data-protection law (and what moving to another
assistant needs): their profile and accounts, their conversations (their own words
and the assistant's answers; other people's words in shared threads are left out,
as they are someone else's data), summaries, memories, daily logs and files.
Secrets (Google tokens, sign-in states) are never part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.db.database import Database
from core.db.models import Conversation, Identity, Message, User
from core.db.models_daily import DailyLog
from core.db.models_files import StoredFile
from core.db.models_memory import Memory
from core.db.models_reminders import Reminder
from core.db.models_summaries import Summary

LEFT_OUT = "[another person's message, left out of your export]"


@dataclass(frozen=True, slots=True)
class ExportedMessage:
    id: int
    role: str
    content: str
    created_at: datetime
    status: str
    edited_at: datetime | None
    deleted: bool
    platform_message_id: str | None
    attachments: list[Any]


@dataclass(slots=True)
class ExportedConversation:
    id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    created_at: datetime
    messages: list[ExportedMessage] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExportedFile:
    id: int
    filename: str
    content_type: str
    data: bytes
    created_at: datetime
    message_id: int | None


@dataclass(slots=True)
class PersonExport:
    """One person's data, ready to be written out."""

    profile: dict[str, Any]
    accounts: list[dict[str, Any]]
    timezone: str | None
    conversations: list[ExportedConversation]
    memories: list[dict[str, Any]]
    daily_logs: list[dict[str, Any]]
    files: list[ExportedFile]
    reminders: list[dict[str, Any]] = field(default_factory=list)


async def collect(db: Database, user_id: int) -> PersonExport | None:
    """Everything stored about ``user_id``; None when there is no such person."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        accounts = (await session.execute(select(Identity).where(Identity.user_id == user_id))).scalars().all()
        conversations = (
            (
                await session.execute(
                    select(Conversation).where(Conversation.user_id == user_id).order_by(Conversation.id)
                )
            )
            .scalars()
            .all()
        )
        exported = []
        for conversation in conversations:
            exported.append(await _conversation(session, conversation, user_id))
        memories = (
            (await session.execute(select(Memory).where(Memory.user_id == user_id).order_by(Memory.id))).scalars().all()
        )
        logs = (
            (await session.execute(select(DailyLog).where(DailyLog.user_id == user_id).order_by(DailyLog.day)))
            .scalars()
            .all()
        )
        files = (
            (await session.execute(select(StoredFile).where(StoredFile.user_id == user_id).order_by(StoredFile.id)))
            .scalars()
            .all()
        )
        reminders = (
            (await session.execute(select(Reminder).where(Reminder.user_id == user_id).order_by(Reminder.id)))
            .scalars()
            .all()
        )
    return PersonExport(
        profile={
            "email": user.email,
            "display_name": user.display_name,
            "timezone": user.timezone,
            "settings": user.settings or {},
            "created_at": user.created_at,
        },
        accounts=[
            {
                "platform": a.platform,
                "workspace": a.workspace,
                "user_id": a.platform_user_id,
                "display_name": a.display_name,
                "linked_at": a.created_at,
            }
            for a in accounts
        ],
        timezone=user.timezone,
        conversations=exported,
        memories=[
            {
                "id": m.id,
                "text": m.text,
                "source_message_id": m.source_message_id,
                "created_at": m.created_at,
                "updated_at": m.updated_at,
                "superseded_by": m.superseded_by,
            }
            for m in memories
        ],
        daily_logs=[
            {"day": log.day, "state": log.state, "summary": log.summary, "drive_link": log.drive_link} for log in logs
        ],
        files=[ExportedFile(f.id, f.filename, f.content_type, f.data, f.created_at, f.message_id) for f in files],
        reminders=[
            {
                "id": r.id,
                "text": r.text,
                "local_start": r.local_start,
                "timezone": r.timezone,
                "recurrence": r.rrule,
                "state": r.state,
                "next_due": r.next_due,
                "platform": r.platform,
                "created_at": r.created_at,
            }
            for r in reminders
        ],
    )


async def _conversation(session: Any, conversation: Conversation, user_id: int) -> ExportedConversation:
    exported = ExportedConversation(
        conversation.id,
        conversation.platform,
        conversation.workspace,
        conversation.channel,
        conversation.thread,
        conversation.created_at,
    )
    rows = (
        (await session.execute(select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)))
        .scalars()
        .all()
    )
    for row in rows:
        someone_else = row.role == "user" and row.author_user_id not in (None, user_id)
        exported.messages.append(
            ExportedMessage(
                id=row.id,
                role=row.role,
                content=LEFT_OUT if someone_else else row.content,
                created_at=row.created_at,
                status=row.status,
                edited_at=row.edited_at,
                deleted=row.deleted_at is not None,
                platform_message_id=row.platform_message_id,
                attachments=[] if someone_else else list(row.attachments or []),
            )
        )
    summaries = (
        (await session.execute(select(Summary).where(Summary.conversation_id == conversation.id).order_by(Summary.id)))
        .scalars()
        .all()
    )
    exported.summaries = [
        {
            "id": s.id,
            "first_message_id": s.first_message_id,
            "last_message_id": s.last_message_id,
            "text": s.text,
            "covers_from": s.covers_from,
            "covers_to": s.covers_to,
            "stale": s.stale,
        }
        for s in summaries
    ]
    return exported
