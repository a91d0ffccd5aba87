"""Imported history summarised by day: one summary per conversation and local day, linked to its exact range.

Days that already have a summary are skipped, so running it again (after the model was
away) finishes what is left and never writes a day twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.clock import Clock
from core.data_import.chatgpt import PLATFORM
from core.db.database import Database
from core.db.models import Conversation
from core.db.models_summaries import Summary
from core.llm import ModelError
from core.summaries.repository import SummaryRepository
from core.summaries.writer import SummaryWriter
from core.tokens import TokenCounter

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DaySummaries:
    """Days summarised now, days still without a summary, and why it stopped early (if it did)."""

    written: int
    left: int
    stopped: str = ""


async def summarise_imported_days(
    db: Database,
    writer: SummaryWriter,
    *,
    user_id: int,
    user_name: str,
    tz: ZoneInfo,
    clock: Clock,
    counter: TokenCounter,
    progress: Progress | None = None,
) -> DaySummaries:
    """Summarise each day of the person's imported conversations that has no summary yet."""
    repository = SummaryRepository(db)
    async with db.session() as session:
        conversations = (
            await session.scalars(
                select(Conversation.id).where(Conversation.user_id == user_id, Conversation.platform == PLATFORM)
            )
        ).all()
        covered = {
            (row.conversation_id, row.first_message_id)
            for row in (
                await session.execute(
                    select(Summary.conversation_id, Summary.first_message_id).where(
                        Summary.conversation_id.in_(conversations)
                    )
                )
            ).all()
        }
    days = []
    for conversation_id in conversations:
        messages = await repository.messages_after(conversation_id, 0, newest_first=False)
        for _day, group in groupby(messages, key=lambda m: m.created_at.astimezone(tz).date()):
            part = list(group)
            if (conversation_id, part[0].id) not in covered:
                days.append((conversation_id, part))
    written = 0
    for conversation_id, part in days:
        try:
            text = await writer.of_messages(part, user_name=user_name, tz=tz)
        except (ModelError, ValueError) as exc:
            reason = exc.user_message if isinstance(exc, ModelError) else str(exc)
            log.warning("imported days: summary stopped after %d of %d: %s", written, len(days), reason)
            return DaySummaries(written, len(days) - written, reason)
        await repository.add(
            conversation_id,
            first_id=part[0].id,
            last_id=part[-1].id,
            level=0,
            text=text,
            token_count=counter.count(text),
            model=writer.model_name,
            covers_from=part[0].created_at,
            covers_to=part[-1].created_at,
            now=clock(),
        )
        written += 1
        if progress is not None:
            progress(written, len(days))
    return DaySummaries(written, 0)
