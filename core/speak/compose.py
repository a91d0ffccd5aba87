"""The prompt form of `speak`: the model writes the message, knowing the conversation it will land in.

The request is built like a turn's (the same system prompt, the conversation's
recent window under the same token budget) and streamed through the same
model/tool loop as answers; instead of a new user message, a last system note
says why the assistant writes now (the caller's prompt). No tools are offered:
the assistant says something, it does not act on its own.
"""

from __future__ import annotations

from contextlib import aclosing

from sqlalchemy import func, select

from core.chat.stamps import LeadingStampFilter
from core.clock import Clock
from core.context import ContextBuilder
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.repositories import MessageRepository, UserRecord
from core.timefmt import zone
from core.toolloop.loop import LoopOutcome, ToolLoop
from core.tools.registry import ToolContext, ToolRegistry

# Messages ids are 32-bit on PostgreSQL: the newest message is "below" this.
_NEWEST = 2**31 - 2

NOTE = (
    "You are now writing to {user} on your own, not answering a message. "
    "Why you write: {prompt}\nWrite only the message itself, in the language of the conversation."
)


class Composer:
    """Writes the text of a message the assistant starts, with the conversation's context."""

    def __init__(
        self, database: Database, *, context: ContextBuilder, loop: ToolLoop, clock: Clock, default_timezone: str
    ) -> None:
        self._db = database
        self._messages = MessageRepository(database, clock=clock)
        self.context = context
        self.loop = loop
        self.clock = clock
        self.default_timezone = default_timezone

    async def latest_conversation(self, user_id: int, platform: str | None) -> int | None:
        """The person's open conversation (on `platform` when given) with the newest message."""
        # Each conversation's newest message through the (conversation_id, id) index, not a scan of messages.
        newest = select(func.max(Message.id)).where(Message.conversation_id == Conversation.id).scalar_subquery()
        statement = (
            select(Conversation.id)
            .where(Conversation.user_id == user_id, Conversation.closed_at.is_(None), newest.is_not(None))
            .order_by(newest.desc())
            .limit(1)
        )
        if platform is not None:
            statement = statement.where(Conversation.platform == platform)
        async with self._db.engine.connect() as reader:
            return await reader.scalar(statement)

    async def compose(self, user_id: int, conversation_id: int | None, prompt: str) -> str:
        """The model's message for `prompt`, written after the conversation's recent messages.

        Raises :class:`core.llm.ModelError` when the model fails (nothing is posted then).
        """
        user = await self._user(user_id)
        tz = zone(user.timezone, self.default_timezone)
        now = self.clock()
        system_text = self.context.system_message(now=now, tz=tz, user_name=user.display_name)
        note = NOTE.format(user=user.display_name or "the user", prompt=prompt.strip())
        budget = self.context.window_budget(system_text, [note])
        entries = []
        if conversation_id is not None:
            rows, _ = await self._messages.recent_for_context(
                conversation_id, up_to_id=_NEWEST, token_budget=budget,
                per_message_overhead=self.context.per_message_overhead,
            )  # fmt: skip
            entries = self.context.fit([self.context.entry(row, tz) for row in rows], budget)
        messages = self.context.build(system_text=system_text, window=entries).messages
        messages.append({"role": "system", "content": note})
        outcome = LoopOutcome()
        tools = ToolContext(user=user, conversation_id=conversation_id or 0, now=now, timezone=tz)
        run = self.loop.run(messages, ToolRegistry(), tools, outcome, text_filter=LeadingStampFilter())
        async with aclosing(run) as events:
            async for _ in events:
                pass
        return outcome.text.strip()

    async def _user(self, user_id: int) -> UserRecord:
        statement = select(User.id, User.display_name, User.timezone, User.settings, User.email).where(
            User.id == user_id
        )
        async with self._db.engine.connect() as reader:
            row = (await reader.execute(statement)).one()
        return UserRecord(row.id, row.display_name or "", row.timezone, row.settings or {}, row.email)
