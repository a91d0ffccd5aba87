"""Builders for memory tests: people, conversations and messages stored as the chat stores them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert

from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.repositories import UserRecord
from core.llm import OpenAIModel
from core.memory.embedder import Embedder
from core.memory.search import MemorySearch
from core.memory.store import MemoryStore


@dataclass
class Memory:
    """The memory services of one test, built as the container builds them."""

    store: MemoryStore
    search: MemorySearch
    clock: ManualClock


def build_memory(database: Database, model: OpenAIModel, clock: ManualClock, **store_options: object) -> Memory:
    store = MemoryStore(database, Embedder(model, dimensions=256), clock=clock, **store_options)  # type: ignore[arg-type]
    return Memory(store, MemorySearch(store), clock)


async def add_user(db: Database, name: str) -> UserRecord:
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id),
            {"display_name": name, "settings": {}, "created_at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    return UserRecord(int(user_id), name, "Europe/Paris", {})


async def add_conversation(db: Database, user_id: int, platform: str, channel: str, at: datetime) -> int:
    async with db.engine.begin() as conn:
        return int(
            await conn.scalar(
                insert(Conversation).returning(Conversation.id),
                {
                    "user_id": user_id,
                    "platform": platform,
                    "workspace": "w",
                    "channel": channel,
                    "thread": "",
                    "created_at": at,
                    "revision": 0,
                },
            )
        )


async def add_message(
    db: Database, conversation_id: int, role: str, content: str, at: datetime, author: int | None = None
) -> int:
    async with db.engine.begin() as conn:
        return int(
            await conn.scalar(
                insert(Message).returning(Message.id),
                {
                    "conversation_id": conversation_id,
                    "author_user_id": author if role == "user" else None,
                    "role": role,
                    "content": content,
                    "attachments": [],
                    "created_at": at,
                    "platform_parts": [],
                    "status": "complete",
                    "status_reason": "",
                    "token_count": len(content.split()),
                    "model": "",
                },
            )
        )
