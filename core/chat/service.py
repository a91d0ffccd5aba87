"""ChatService: one streamed turn, per-conversation ordering, and the user's edits.

A turn stores the user's message first, then streams the model's answer as
plain events (core.types).  The answer row exists from the start with status
``streaming`` and is checkpointed while it grows, so a model failure, a
platform failure or a crash leaves the user's message and every stored
character of the answer in place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.access import AccessPolicy
from core.context import ContextBuilder, images_of
from core.db.database import Database
from core.db.models import Message, utcnow
from core.db.repositories import (
    ContextRow,
    ConversationRepository,
    MessageRepository,
    StartedTurn,
    UserRecord,
    UserRepository,
)
from core.llm import ChatModel, ModelError, ModelFinished, ModelText, ModelToolCalls, Usage
from core.locks import AdvisoryLocks, PlaceLocks
from core.timefmt import is_valid_zone, zone
from core.tools.registry import ToolContext, ToolRegistry
from core.types import (
    ConversationRef,
    IncomingMessage,
    MessageStatus,
    PlatformIdentity,
    Refused,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)
from core.window import CachedWindow, WindowCache

log = logging.getLogger(__name__)

REFUSAL = "Sorry, this assistant is private and your account is not on its list. Ask its owner to add you."
DELETED_BEFORE_ANSWER = "You deleted that message before I got to it, so I left it unanswered."
INTERRUPTED_REASON = "interrupted: the assistant stopped while answering"


@dataclass(frozen=True, slots=True)
class InterruptedAnswer:
    """An answer cut off by a restart, for the adapter to close off on the platform."""

    message_id: int
    conversation: ConversationRef
    text: str
    platform_parts: tuple[str, ...]


# The cached window holds this much more than the budget, so that small changes
# of the budget (a longer system prompt) do not force a reload.
WINDOW_SLACK = 1.25


@dataclass(slots=True)
class _Waiting:
    """A message waiting for its turn; edits and deletions that arrive meanwhile land here."""

    text: str
    deleted: bool = False


@dataclass(slots=True)
class _Answer:
    id: int
    conversation_id: int
    created_at: datetime
    connection: AsyncConnection | None
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    last_checkpoint: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ChatService:
    """Runs turns for every platform. Build one per process and share it."""

    def __init__(
        self,
        *,
        db: Database,
        model: ChatModel,
        context: ContextBuilder,
        tools: ToolRegistry,
        access: AccessPolicy,
        default_timezone: str = "UTC",
        checkpoint_interval: float = 1.0,
        max_tool_rounds: int = 6,
        clock: Callable[[], datetime] = utcnow,
        locks: PlaceLocks | None = None,
    ) -> None:
        self.db = db
        self.model = model
        self.context = context
        self.tools = tools
        self.access = access
        self.default_timezone = default_timezone
        self.checkpoint_interval = checkpoint_interval
        self.max_tool_rounds = max_tool_rounds
        self.clock = clock
        self.users = UserRepository(db)
        self.conversations = ConversationRepository(db)
        self.messages = MessageRepository(db)
        if locks is None:
            # Several processes may share a PostgreSQL database; SQLite is one process's.
            locks = PlaceLocks(AdvisoryLocks(db.url) if db.dialect == "postgresql" else None)
        self.locks = locks
        # Hot-path caches; both are invalidated by the operations that change them.
        self._user_cache: dict[str, UserRecord] = {}  # by account key; display names change
        self._conversation_cache: dict[ConversationRef, int] = {}
        self.windows = WindowCache()
        self._waiting: dict[tuple[ConversationRef, str], _Waiting] = {}

    # -- one turn ---------------------------------------------------------------

    async def turn(self, incoming: IncomingMessage) -> AsyncIterator[TurnEvent]:
        """Answer one user message as a stream of events.

        Turns in one conversation run one after another in arrival order; turns
        in different conversations run concurrently.
        """
        if not self.access.allows(incoming.author):
            log.info("refused %s: not on the allowlist", incoming.author.key)
            yield Refused(REFUSAL)
            return
        key = (incoming.conversation, incoming.platform_message_id)
        waiting = _Waiting(incoming.text)
        if incoming.platform_message_id:
            self._waiting[key] = waiting
        try:
            # Taken before the first await of the turn, so messages keep their arrival order.
            async with self.locks.hold(incoming.conversation) as connection:
                user = await self._user(incoming.author)
                conversation_id = await self._conversation(incoming.conversation, user.id, connection)
                if waiting.deleted:
                    log.info("message %s was deleted while it waited; not answered", incoming.platform_message_id)
                    yield TurnError(DELETED_BEFORE_ANSWER)
                    return
                if waiting.text != incoming.text:
                    incoming = dataclasses.replace(incoming, text=waiting.text)
                async with aclosing(self._locked_turn(incoming, user, conversation_id, connection, waiting)) as events:
                    async for event in events:
                        yield event
        finally:
            if self._waiting.get(key) is waiting:
                del self._waiting[key]

    async def _locked_turn(
        self,
        incoming: IncomingMessage,
        user: UserRecord,
        conversation_id: int,
        connection: AsyncConnection | None,
        waiting: _Waiting,
    ) -> AsyncIterator[TurnEvent]:
        """The turn proper. ``connection`` (PostgreSQL) holds the conversation's advisory lock and
        carries the turn's own writes, saving a transaction round trip each."""
        started = await self.messages.start_turn(
            conversation_id=conversation_id,
            author_user_id=user.id,
            text=incoming.text,
            token_count=self.context.counter.count(incoming.text),
            created_at=incoming.received_at,
            attachments=[
                {"kind": a.kind.value, "filename": a.filename, "content_type": a.content_type, "url": a.url}
                for a in incoming.attachments
            ],
            platform_message_id=incoming.platform_message_id,
            model=self.model.chat_model_name,
            connection=connection,
        )
        if self._waiting.get((incoming.conversation, incoming.platform_message_id)) is waiting:
            del self._waiting[(incoming.conversation, incoming.platform_message_id)]
        answer = _Answer(started.answer_id, conversation_id, started.answer_created_at, connection)
        # Changed while it was being stored: apply it now that it is in the database.
        if waiting.deleted:
            await self.delete_user_message(incoming.conversation, incoming.platform_message_id)
            await self._finish(answer, MessageStatus.FAILED, reason=DELETED_BEFORE_ANSWER)
            yield TurnError(DELETED_BEFORE_ANSWER, answer.id)
            return
        if waiting.text != incoming.text:
            await self.edit_user_message(incoming.conversation, incoming.platform_message_id, waiting.text)
            started = dataclasses.replace(started, revision=started.revision + 1)
        yield TurnStarted(conversation_id, started.user_row.id, answer.id)
        finished = False
        try:
            tz = zone(user.timezone, self.default_timezone)
            now = self.clock()
            system_text = self.context.system_message(now=now, tz=tz, user_name=user.display_name)
            budget = self.context.window_budget(system_text)
            window = await self._window(conversation_id, started, tz.key, budget)
            built = self.context.build(
                system_text=system_text,
                window=self.context.fit(window.entries, budget),
                current_images=images_of(incoming.attachments),
            )
            tool_context = ToolContext(user=user, conversation_id=conversation_id, now=now, timezone=tz)
            async with aclosing(self._stream_answer(built.messages, answer, tool_context)) as events:
                async for event in events:
                    yield event
            await self._finish(answer, MessageStatus.COMPLETE)
            finished = True
            yield TurnDone(answer.id, answer.text)
        except ModelError as exc:
            status = MessageStatus.PARTIAL if answer.text else MessageStatus.FAILED
            log.warning("model call failed in conversation %s: %s", conversation_id, exc)
            await self._finish(answer, status, reason=exc.user_message)
            finished = True
            yield TurnError(exc.user_message, answer.id)
        finally:
            if not finished:
                # Cancelled, or the consumer went away: keep what was said so far. The held
                # connection may have been interrupted mid-statement, so use a fresh one.
                answer.connection = None
                await asyncio.shield(self._finish(answer, MessageStatus.PARTIAL, reason=INTERRUPTED_REASON))

    async def _window(self, conversation_id: int, started: StartedTurn, zone_name: str, budget: int) -> CachedWindow:
        """The conversation's recent window including the new message: from memory when it is current."""
        tz = zone(zone_name)
        window = self.windows.get(
            conversation_id, zone=zone_name, revision=started.revision, last_id=started.previous_last_id
        )
        if window is not None:
            window.append(self.context.entry(started.user_row, tz))
            if window.covers(budget):
                window.trim(int(budget * WINDOW_SLACK))
                return window
        rows, has_older = await self.messages.recent_for_context(
            conversation_id,
            up_to_id=started.user_row.id,
            token_budget=int(budget * WINDOW_SLACK),
            per_message_overhead=self.context.per_message_overhead,
        )
        window = CachedWindow(zone=zone_name, revision=started.revision, last_id=0, has_older=has_older)
        for row in rows:
            window.append(self.context.entry(row, tz))
        self.windows.put(conversation_id, window)
        return window

    async def _stream_answer(
        self, messages: list[dict[str, Any]], answer: _Answer, tool_context: ToolContext
    ) -> AsyncIterator[TurnEvent]:
        status_shown = False
        for round_number in range(self.max_tool_rounds + 1):
            offer_tools = self.tools.schemas() if round_number < self.max_tool_rounds else []
            requested = None
            if round_number and answer.parts and not answer.text[-1].isspace():
                # Text from before and after a tool call are two paragraphs of one answer.
                answer.parts.append("\n\n")
                yield TextDelta("\n\n")
            async with aclosing(self.model.stream_chat(messages, tools=offer_tools)) as stream:
                async for event in stream:
                    if isinstance(event, ModelText):
                        if status_shown:
                            status_shown = False
                            yield StatusUpdate("")
                        answer.parts.append(event.text)
                        yield TextDelta(event.text)
                        await self._maybe_checkpoint(answer)
                    elif isinstance(event, ModelToolCalls):
                        requested = event
                    elif isinstance(event, ModelFinished):
                        answer.usage = _add_usage(answer.usage, event.usage)
            if requested is None:
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": requested.text or None,
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in requested.calls
                    ],
                }
            )
            for call in requested.calls:
                status_shown = True
                yield StatusUpdate(self.tools.status_for(call.name))
                result = await self.tools.run(call, tool_context)
                if result.is_error:
                    log.info("tool %s returned an error to the model: %s", call.name, result.content[:200])
                for file in result.files:
                    yield file
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
        if status_shown:
            yield StatusUpdate("")

    async def _maybe_checkpoint(self, answer: _Answer) -> None:
        now = time.monotonic()
        if now - answer.last_checkpoint >= self.checkpoint_interval:
            answer.last_checkpoint = now
            text = answer.text
            await self.messages.checkpoint(answer.id, text, connection=answer.connection)

    async def _finish(self, answer: _Answer, status: MessageStatus, *, reason: str = "") -> None:
        text = answer.text
        usage = answer.usage
        token_count = self.context.counter.count(text)
        await self.messages.finish(
            answer.id,
            content=text,
            status=status,
            reason=reason,
            token_count=token_count,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            connection=answer.connection,
        )
        self._remember_answer(answer, status, reason, token_count)

    def _remember_answer(self, answer: _Answer, status: MessageStatus, reason: str, token_count: int) -> None:
        """Add the finished answer to the cached window, as the next turn would read it from the database."""
        window = self.windows.peek(answer.conversation_id)
        if window is None:
            return
        if status == MessageStatus.FAILED:
            window.last_id = answer.id  # failed answers stay out of the context
            return
        row = ContextRow(answer.id, "assistant", answer.text, answer.created_at, token_count, status.value, reason, [])
        window.append(self.context.entry(row, zone(window.zone)))

    # -- lookups with caches ------------------------------------------------------

    async def _user(self, identity: PlatformIdentity) -> UserRecord:
        cached = self._user_cache.get(identity.key)
        if cached is None:
            cached = await self.users.resolve(identity)
            self._user_cache[identity.key] = cached
        return cached

    async def _conversation(self, ref: ConversationRef, user_id: int, connection: AsyncConnection | None) -> int:
        if connection is not None:
            # Other processes may start a new conversation here (/new): ask the database, on the lock's connection.
            return await self.conversations.open_for(ref, user_id, connection=connection)
        cached = self._conversation_cache.get(ref)
        if cached is None:
            cached = await self.conversations.open_for(ref, user_id)
            self._conversation_cache[ref] = cached
        return cached

    # -- questions adapters may ask ----------------------------------------------------

    async def is_allowed(self, identity: PlatformIdentity) -> bool:
        """Whether this account may use the assistant (the one access decision, also used before downloads)."""
        return self.access.allows(identity)

    async def has_conversation(self, ref: ConversationRef) -> bool:
        """Whether a conversation is open at this place (a thread the assistant already takes part in)."""
        return await self.conversations.find_open(ref) is not None

    # -- what users can do besides talking -------------------------------------------

    async def new_conversation(self, ref: ConversationRef) -> None:
        """Start afresh at this place: the next message opens a new conversation."""
        async with self.locks.hold(ref) as connection:  # never between a turn's lookup and its use
            conversation_id = self._conversation_cache.pop(ref, None)
            if conversation_id is not None:
                self.windows.forget(conversation_id)
            await self.conversations.close(ref, connection=connection)

    async def forget_last_exchange(self, ref: ConversationRef) -> bool:
        """Keep the last question and its answer out of the model's context from now on."""
        async with self.locks.hold(ref) as connection:
            conversation_id = await self.conversations.find_open(ref, connection=connection)
            if conversation_id is None:
                return False
            self.windows.forget(conversation_id)
            return await self.messages.forget_last_exchange(conversation_id) > 0

    async def edit_user_message(
        self, ref: ConversationRef, platform_message_id: str, new_text: str, *, edited_at: datetime | None = None
    ) -> bool:
        """The user changed a message on the platform; the stored history and the next context follow."""
        waiting = self._waiting.get((ref, platform_message_id))
        if waiting is not None:
            waiting.text = new_text  # not stored yet: it will be answered as edited
            return True
        message = await self.messages.find_by_platform_id(ref, platform_message_id)
        if message is None or message.role != "user" or message.deleted_at is not None:
            return False
        if message.content == new_text:
            return True  # platforms report unchanged edits (link previews); nothing to do
        self.windows.forget(message.conversation_id)
        await self.messages.edit(
            message.id,
            content=new_text,
            token_count=self.context.counter.count(new_text),
            edited_at=edited_at or self.clock(),
        )
        return True

    async def delete_user_message(
        self, ref: ConversationRef, platform_message_id: str, *, deleted_at: datetime | None = None
    ) -> bool:
        """The user deleted a message on the platform: its text is dropped and the model no longer sees it."""
        waiting = self._waiting.get((ref, platform_message_id))
        if waiting is not None:
            waiting.deleted = True  # not stored yet: it will not be answered
            return True
        message = await self.messages.find_by_platform_id(ref, platform_message_id)
        if message is None or message.role != "user":
            return False
        self.windows.forget(message.conversation_id)
        await self.messages.mark_deleted(message.id, deleted_at=deleted_at or self.clock())
        return True

    async def history(self, ref: ConversationRef, *, limit: int = 20) -> list[Message]:
        """The newest messages of the open conversation at this place, oldest first."""
        conversation_id = await self.conversations.find_open(ref)
        if conversation_id is None:
            return []
        return await self.messages.history(conversation_id, limit=limit)

    async def set_timezone(self, identity: PlatformIdentity, name: str) -> str:
        """Set the user's time zone; returns a sentence for the user."""
        if not is_valid_zone(name):
            return f"“{name}” is not a time zone I know. Use an IANA name such as Europe/Paris or America/New_York."
        user = await self._user(identity)
        await self.users.set_timezone(user.id, name)
        self._user_cache.pop(identity.key, None)
        return f"Time zone set to {name}."

    async def user_timezone(self, identity: PlatformIdentity) -> str:
        user = await self._user(identity)
        return user.timezone or self.default_timezone

    # -- delivery bookkeeping, for the renderers ------------------------------------

    async def close(self) -> None:
        """Release the service's own database connections (the advisory lock pool)."""
        if self.locks.advisory is not None:
            await self.locks.advisory.dispose()

    async def record_platform_parts(self, answer_message_id: int, parts: list[str]) -> None:
        """Remember which platform messages show this answer (for edits and restart recovery)."""
        await self.messages.set_platform_parts(answer_message_id, parts)

    async def recover_interrupted(self, platform: str) -> list[InterruptedAnswer]:
        """Mark answers that a dead process left ``streaming`` as partial; return them for the adapter.

        An answer whose conversation is locked (a turn runs in it here or in
        another process sharing the database) is alive and left alone.
        """
        found: list[InterruptedAnswer] = []
        for message, ref in await self.messages.interrupted(platform):
            async with self.locks.hold_if_free(ref) as free:
                if not free:
                    continue
                await self.messages.finish(
                    message.id,
                    content=message.content,
                    status=MessageStatus.PARTIAL,
                    reason=INTERRUPTED_REASON,
                    token_count=self.context.counter.count(message.content),
                )
            log.warning("answer %s in %s was interrupted by a restart; marked partial", message.id, ref)
            found.append(InterruptedAnswer(message.id, ref, message.content, tuple(message.platform_parts or ())))
        return found


def _add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    if total is None:
        return more
    return Usage(total.prompt_tokens + more.prompt_tokens, total.completion_tokens + more.completion_tokens)
