"""A ChatGPT data export brought into a person's history.

ChatGPT's export (Settings → Data controls → Export) is a zip holding
``conversations.json``: a list of conversations, each a tree of messages
(``mapping``: node id → {message, parent, children}) whose branch shown last ends
at ``current_node``. That branch, read from the root, is the conversation as the
person saw it; edited-away branches are left out. Only text written by the person
or by the assistant is kept (system prompts, tool calls and hidden messages are not).

Each conversation becomes a closed conversation of platform ``chatgpt`` with the
original times; a conversation imported before (same id) is skipped, so importing
the same file twice adds nothing. Everything is written in one transaction: a file
is imported whole or not at all; items that cannot be read are skipped, each with
a line that says why.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.db.database import Database
from core.db.models import Conversation, Message
from core.text_safety import storable

PLATFORM = "chatgpt"
MAX_ID = 64


class ImportRefused(Exception):
    """The file as a whole cannot be imported; one sentence, nothing was written."""


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    node_id: str
    role: str
    text: str
    at: datetime


@dataclass(slots=True)
class ImportedConversation:
    id: str
    title: str
    created_at: datetime
    messages: list[ImportedMessage] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    """What was imported, and a line for each item skipped."""

    conversations: int = 0
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    skipped: list[str] = field(default_factory=list)


def read_export(data: bytes) -> tuple[list[ImportedConversation], list[str]]:
    """The conversations of an export (the zip, or its conversations.json) and a line per item skipped."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = archive.read("conversations.json")
        except (zipfile.BadZipFile, KeyError):
            raise ImportRefused("the zip has no conversations.json: is it ChatGPT's data export?") from None
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"it is not JSON ({exc}): is it ChatGPT's conversations.json?") from None
    except RecursionError:
        raise ImportRefused("its JSON is nested too deeply: is it ChatGPT's conversations.json?") from None
    if not isinstance(items, list):
        raise ImportRefused("it is not a list of conversations: is it ChatGPT's conversations.json?")
    conversations, skipped = [], []
    for number, item in enumerate(items, start=1):
        try:
            conversation = _conversation(item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            skipped.append(f"conversation {number}{_titled(item)}: not readable ({type(exc).__name__}: {exc}); skipped")
            continue
        if not conversation.messages:
            skipped.append(f"conversation {number}{_titled(item)}: no text messages in it; skipped")
            continue
        conversations.append(conversation)
    return conversations, skipped


async def import_conversations(
    db: Database, user_id: int, conversations: list[ImportedConversation], skipped: list[str]
) -> ImportReport:
    """Store the conversations for ``user_id`` in one transaction (those imported before are skipped)."""
    report = ImportReport(skipped=list(skipped))
    workspace = f"import-{user_id}"
    async with db.session() as session, session.begin():
        known = set(
            (
                await session.scalars(
                    select(Conversation.channel).where(
                        Conversation.user_id == user_id,
                        Conversation.platform == PLATFORM,
                        Conversation.workspace == workspace,
                    )
                )
            ).all()
        )
        for conversation in conversations:
            if conversation.id in known:
                report.skipped.append(f"{conversation.title!r}: imported before; skipped")
                continue
            known.add(conversation.id)
            row = Conversation(
                user_id=user_id,
                platform=PLATFORM,
                workspace=workspace,
                channel=conversation.id,
                thread="",
                created_at=conversation.created_at,
                closed_at=conversation.messages[-1].at,
            )
            session.add(row)
            await session.flush()
            for message in conversation.messages:
                session.add(
                    Message(
                        conversation_id=row.id,
                        author_user_id=user_id if message.role == "user" else None,
                        role=message.role,
                        content=message.text,
                        created_at=message.at,
                        platform_message_id=message.node_id[:MAX_ID],
                        status="complete",
                        model=PLATFORM if message.role == "assistant" else "",
                    )
                )
            report.conversations += 1
            report.messages += len(conversation.messages)
            first, last = conversation.messages[0].at, conversation.messages[-1].at
            report.first = first if report.first is None else min(report.first, first)
            report.last = last if report.last is None else max(report.last, last)
    return report


def _conversation(item: dict[str, Any]) -> ImportedConversation:
    ident = storable(str(item.get("conversation_id") or item.get("id") or ""))
    if not ident or len(ident) > MAX_ID:
        raise ValueError("it has no usable id")
    mapping: dict[str, Any] = item["mapping"]
    created = _time(item.get("create_time")) or datetime(1970, 1, 1, tzinfo=UTC)
    conversation = ImportedConversation(ident, storable(str(item.get("title") or "Untitled")), created)
    node_id = item.get("current_node") or _last_leaf(mapping)
    branch = []
    seen: set[str] = set()
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        branch.append(mapping[node_id])
        node_id = mapping[node_id].get("parent")
    at = created
    for node in reversed(branch):
        message = node.get("message")
        if not message:
            continue
        role = (message.get("author") or {}).get("role")
        text = _text(message.get("content") or {})
        if role not in ("user", "assistant") or not text.strip():
            continue
        if (message.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
            continue
        at = _time(message.get("create_time")) or at  # a message without a time follows the one before
        message_id = storable(str(message.get("id") or node["id"]))
        conversation.messages.append(ImportedMessage(message_id, role, storable(text), at))
    return conversation


def _text(content: dict[str, Any]) -> str:
    if content.get("content_type") not in ("text", "multimodal_text", None):
        return ""
    parts = content.get("parts") or []
    return "\n".join(part for part in parts if isinstance(part, str)).strip()


def _last_leaf(mapping: dict[str, Any]) -> str | None:
    leaves = [key for key, node in mapping.items() if not node.get("children")]
    return leaves[-1] if leaves else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):  # beyond any calendar (or Infinity): treated as no time
            return None
    return None


def _titled(item: Any) -> str:
    title = item.get("title") if isinstance(item, dict) else None
    return f" ({title!r})" if title else ""
