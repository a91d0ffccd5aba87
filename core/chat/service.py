"""ChatService: the one entry point of the platforms into the core.

``turn`` answers a user message as a stream of plain events (core.types):
access → store the user message → before-model steps → the model/tool loop →
store the answer → after-answer steps (see core/chat/turn.py and
core/chat/pipeline.py).  The rest are the user's own operations and the
renderers' bookkeeping, delegated to small modules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, aclosing
from datetime import datetime

from core.access import AccessPolicy
from core.chat.answer import AnswerRecorder
from core.chat.holding import Box, HeldMessages, TooManyHeld
from core.chat.inbound import InboundClaims
from core.chat.media import MediaReader
from core.chat.pipeline import TurnPipeline
from core.chat.places import ConversationLookup
from core.chat.recovery import InterruptedAnswer, recover_interrupted
from core.chat.turn import DELETED_BEFORE_ANSWER, TurnRunner
from core.chat.user_ops import TimezoneChange, UserOperations
from core.chat.waiting import WaitingMessages
from core.chat.window_loader import WindowLoader
from core.clock import Clock, Sleep, system_clock
from core.context import ContextBuilder
from core.db.database import Database
from core.db.inbound import InboundMessages
from core.db.outage import DatabaseUnavailable
from core.db.repositories import ConversationRepository, MessageRepository
from core.limits import LimitSettings, UsageLimits
from core.llm import ChatModel
from core.locks import AdvisoryLocks, PlaceLocks
from core.media.voice import Speaker
from core.people import Admission, People
from core.tasks import BackgroundTasks
from core.text_safety import storable
from core.toolloop.loop import ToolLoop
from core.tools.registry import ToolRegistry
from core.types import (
    ConversationRef,
    IncomingMessage,
    PlatformIdentity,
    Refused,
    StoredMessage,
    TurnError,
    TurnEvent,
)
from core.window import WindowCache

log = logging.getLogger(__name__)

NOTHING_READABLE = "I couldn't read anything in that message: its files could not be downloaded."
TOO_MANY_WAITING = "I'm still answering your earlier messages here; send this one again when I've caught up."
TOO_MANY_HELD = "I can't save messages right now and too many are waiting; please send this one again in a few minutes."
NOT_SAVED = "I couldn't save your message: the database has been unavailable too long. Please send it again later."


def storable_message(incoming: IncomingMessage) -> IncomingMessage:
    """The message with text and names every database can store (NUL, lone surrogates replaced)."""
    text, name = storable(incoming.text), storable(incoming.author.display_name)
    if text == incoming.text and name == incoming.author.display_name:
        return incoming
    author = dataclasses.replace(incoming.author, display_name=name)
    return dataclasses.replace(incoming, text=text, author=author)


class ChatService:
    """Runs turns for every platform. Build one per process and share it."""

    def __init__(
        self,
        *,
        db: Database,
        model: ChatModel,
        context: ContextBuilder,
        tools: ToolRegistry,
        access: AccessPolicy | None = None,
        people: People | None = None,
        default_timezone: str = "UTC",
        checkpoint_interval: float = 1.0,
        max_tool_rounds: int = 6,
        clock: Clock = system_clock,
        locks: PlaceLocks | None = None,
        tasks: BackgroundTasks | None = None,
        pipeline: TurnPipeline | None = None,
        media: MediaReader | None = None,
        limits: UsageLimits | None = None,
        speaker: Speaker | None = None,
        sleep: Sleep = asyncio.sleep,
        held: HeldMessages | None = None,
    ) -> None:
        if people is None:
            people = People(db, accounts=access or AccessPolicy(()), clock=clock)
        if locks is None:
            # Several processes may share a PostgreSQL database; SQLite is one process's.
            locks = PlaceLocks(AdvisoryLocks(db.url) if db.dialect == "postgresql" else None)
        self.db = db
        self.model = model
        self.context = context
        self.tools = tools
        self.people = people
        self.default_timezone = default_timezone  # a person's until they choose their own
        self.clock = clock
        self.sleep = sleep  # waits of the clock (retries, the memory sweep): asyncio.sleep, or a test's
        self.locks = locks
        self.tasks = tasks or BackgroundTasks()
        self.pipeline = pipeline or TurnPipeline(self.tasks)
        self.messages = MessageRepository(db, clock=clock)
        self.places = ConversationLookup(ConversationRepository(db, clock=clock), shared=db.dialect == "postgresql")
        self.windows = WindowCache()
        self.waiting = WaitingMessages()
        self.claims = InboundClaims(InboundMessages(db))
        self.held = held or HeldMessages(sleep=sleep)
        self.counter = context.counter
        self._limits = limits or UsageLimits(LimitSettings(0, 0, 0, 0), clock=clock, db=db)
        self._active: Counter[ConversationRef] = Counter()  # turns running or waiting, per place
        self.ops = UserOperations(
            messages=self.messages,
            places=self.places,
            windows=self.windows,
            waiting=self.waiting,
            locks=locks,
            people=people,
            counter=context.counter,
            clock=clock,
            default_timezone=default_timezone,
            pipeline=self.pipeline,
        )
        self.runner = TurnRunner(
            messages=self.messages,
            context=context,
            windows=WindowLoader(self.messages, context, self.windows, names=people.repository.names),
            answers=AnswerRecorder(
                self.messages, context, self.windows, checkpoint_interval=checkpoint_interval, sleep=sleep
            ),
            loop=ToolLoop(model, max_rounds=max_tool_rounds, limits=self._limits),
            tools=tools,
            pipeline=self.pipeline,
            waiting=self.waiting,
            claims=self.claims,
            user_ops=self.ops,
            clock=clock,
            default_timezone=default_timezone,
            model_name=model.chat_model_name,
            media=media,
            speaker=speaker,
        )

    @property
    def limits(self) -> UsageLimits:
        """The per-person limits: messages, paid tools, tool calls per round and turn."""
        return self._limits

    @limits.setter
    def limits(self, limits: UsageLimits) -> None:
        self._limits = limits
        self.runner.loop.limits = limits

    # -- one turn ---------------------------------------------------------------

    async def turn(self, incoming: IncomingMessage, *, admission: Admission | None = None) -> AsyncIterator[TurnEvent]:
        """Answer one user message as a stream of events.

        Turns in one conversation run one after another in arrival order; turns
        in different conversations run concurrently.  ``admission``: the access decision
        the adapter already made for this message (its gate); without it the turn decides.
        """
        incoming = storable_message(incoming)
        place, message_id = incoming.conversation, incoming.platform_message_id
        cap = self.limits.settings.waiting_per_conversation
        if cap and self._active[place] > cap:  # one turn runs, ``cap`` wait behind it
            log.info("%s: %d turns already in line; message not taken", place, self._active[place])
            yield TurnError(TOO_MANY_WAITING)
            return
        waiting = self.waiting.enter(place, message_id, incoming.text)
        self._active[place] += 1
        hold, box = self.held.hold(), Box[object]()  # the database may be away: the message waits, in line
        try:
            # Taken before the first await of the turn, so messages keep their arrival order.
            async with self.locks.local(place), AsyncExitStack() as shared:
                connection = None  # the turn's writes use the pool; the lock needs no connection of its own
                taking = lambda: shared.enter_async_context(self.locks.shared(place))  # noqa: E731
                async for event in hold.step("taking the conversation", taking, box):
                    yield event
                await self.counter.ready()  # the tokenizer may still be loading just after the start
                if admission is None or not admission.allowed or admission.user is None:
                    deciding = lambda: self.people.admit(incoming.author, connection=connection)  # noqa: E731
                    async for event in hold.step("deciding access", deciding, box):
                        yield event
                    admission = box.value  # type: ignore[assignment]
                assert admission is not None
                if not admission.allowed or admission.user is None:
                    yield Refused(admission.refusal)
                    return
                user = admission.user
                async for event in hold.step("counting the message", lambda: self.limits.take_message(user.id), box):
                    yield event
                if box.value is not None:
                    log.info("user %s over a limit; message not taken", user.id)
                    yield TurnError(str(box.value))
                    return
                if incoming.fetch_attachments is not None:
                    # Downloaded now that the message has its place in line (and its author was let in).
                    fetched = await incoming.fetch_attachments()
                    incoming = dataclasses.replace(incoming, attachments=fetched, fetch_attachments=None)
                    if not incoming.text.strip() and not incoming.attachments:
                        yield TurnError(NOTHING_READABLE)
                        return
                opening = lambda: self.places.open_for(place, user.id, connection)  # noqa: E731
                async for event in hold.step("opening the conversation", opening, box):
                    yield event
                conversation_id: int = box.value  # type: ignore[assignment]
                if waiting.deleted:
                    log.info("message %s was deleted while it waited; not answered", message_id)
                    yield TurnError(DELETED_BEFORE_ANSWER)
                    return
                if waiting.text != incoming.text:
                    incoming = dataclasses.replace(incoming, text=waiting.text)
                owner = user.id
                if place.thread:
                    reading = lambda: self.places.owner_of(conversation_id)  # noqa: E731
                    async for event in hold.step("reading the thread", reading, box):
                        yield event
                    owner = box.value or user.id  # type: ignore[assignment]
                run = self.runner.run(incoming, user, owner, conversation_id, connection, waiting, hold=hold)
                async with aclosing(run) as events:
                    async for event in events:
                        yield event
        except TooManyHeld:
            yield TurnError(TOO_MANY_HELD)
        except DatabaseUnavailable:
            yield TurnError(NOT_SAVED)
        finally:
            hold.release()
            self.waiting.leave(place, message_id, waiting)
            self._active[place] -= 1
            if self._active[place] <= 0:
                del self._active[place]

    async def claim(self, place: ConversationRef, platform_message_id: str, received_at: datetime) -> bool:
        """Whether this process answers the message: ask before showing anything for it, then call :meth:`turn`.

        Processes sharing the database may each receive it; the first to claim it
        answers, the others drop it.  Claims at one place finish in arrival order.
        """
        return await self.claims.claim(place, platform_message_id, received_at)

    # -- questions adapters may ask ----------------------------------------------------

    @property
    def turns_in_progress(self) -> int:
        """Turns running or waiting in line now (a turn runs on a little after its final text shows)."""
        return sum(self._active.values())

    async def has_conversation(self, ref: ConversationRef) -> bool:
        """Whether a conversation is open at this place (a thread the assistant already takes part in)."""
        return await self.places.find_open(ref) is not None

    async def may_manage(self, ref: ConversationRef, identity: PlatformIdentity) -> bool:
        """Whether ``identity`` may /new or /forget the conversation at ``ref``: only its owner may."""
        conversation_id = await self.places.find_open(ref)
        if conversation_id is None:
            return True
        admission = await self.people.admit(identity)
        return admission.user is not None and await self.places.owner_of(conversation_id) == admission.user.id

    async def admit(self, identity: PlatformIdentity) -> Admission:
        """The access decision for this account, the same a message of it gets (commands ask it)."""
        return await self.people.admit(identity)

    # -- what users can do besides talking (core/chat/user_ops.py) -----------------------

    async def forget_person(self, user_id: int, delete: Callable[[int], Awaitable[object]]) -> None:
        """/forget-me: ``delete(user_id)`` removes the rows, then the caches of this process let go of them."""
        await self.ops.forget_person(user_id, delete)

    async def new_conversation(self, ref: ConversationRef) -> None:
        """Start afresh at this place: the next message opens a new conversation."""
        await self.ops.new_conversation(ref)

    async def forget_last_exchange(self, ref: ConversationRef) -> bool:
        """Keep the last question and its answer out of the model's context from now on."""
        return await self.ops.forget_last_exchange(ref)

    async def edit_user_message(
        self, ref: ConversationRef, platform_message_id: str, new_text: str, *, edited_at: datetime | None = None
    ) -> bool:
        """The user changed a message on the platform; the stored history and the next context follow.

        Noted in the database first, for a turn (of any process) that has not stored the message yet.
        """
        noted = bool(platform_message_id) and await self.claims.note_edit(ref, platform_message_id, storable(new_text))
        applied = await self.ops.edit_user_message(ref, platform_message_id, storable(new_text), edited_at=edited_at)
        return applied or noted

    async def delete_user_message(
        self, ref: ConversationRef, platform_message_id: str, *, deleted_at: datetime | None = None
    ) -> bool:
        """The user deleted a message on the platform: its text is dropped and the model no longer sees it.

        Noted in the database first, for a turn (of any process) that has not stored the message yet.
        """
        at = deleted_at or self.clock()
        noted = bool(platform_message_id) and await self.claims.note_delete(ref, platform_message_id, at)
        applied = await self.ops.delete_user_message(ref, platform_message_id, deleted_at=at)
        return applied or noted

    async def history(self, ref: ConversationRef, *, limit: int = 20) -> list[StoredMessage]:
        """The newest messages of the open conversation at this place, oldest first."""
        return await self.ops.history(ref, limit=limit)

    async def set_timezone(self, identity: PlatformIdentity, name: str) -> TimezoneChange:
        """Set the user's time zone; what happened, for the caller to phrase (``user_ops.timezone_text``)."""
        return await self.ops.set_timezone(identity, name)

    async def user_timezone(self, identity: PlatformIdentity) -> str:
        """The user's time zone name (the default until they set one)."""
        return await self.ops.user_timezone(identity)

    # -- delivery bookkeeping, for the renderers ------------------------------------

    async def record_platform_parts(self, answer_message_id: int, parts: list[str]) -> None:
        """Remember which platform messages show this answer (for edits and restart recovery)."""
        await self.messages.set_platform_parts(answer_message_id, parts)

    async def recover_interrupted(self, platform: str) -> list[InterruptedAnswer]:
        """Mark answers that a dead process left ``streaming`` as partial; return them for the adapter."""
        return await recover_interrupted(platform, messages=self.messages, locks=self.locks, counter=self.counter)

    async def close(self) -> None:
        """Wait for background work, then release the service's own database connections (the lock pool)."""
        await self.tasks.drain()
        if self.locks.advisory is not None:
            await self.locks.advisory.dispose()
