"""What users can do besides talking: edit or delete what they said, /new, /forget, /forget-me, history,
time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core.chat.pipeline import TurnPipeline
from core.chat.places import ConversationLookup
from core.chat.steps import HistoryChange
from core.chat.waiting import WaitingMessages
from core.clock import Clock
from core.db.repositories import MessageRepository
from core.locks import PlaceLocks
from core.people import People
from core.timefmt import canonical_zone
from core.tokens import TokenCounter
from core.types import ConversationRef, PlatformIdentity, StoredMessage
from core.window import WindowCache

NOT_THE_OWNER = "Only the person who started this conversation can do that here."


@dataclass(frozen=True, slots=True)
class TimezoneChange:
    """What setting a time zone did: ``zone`` (its canonical name) was set, or not: ``unknown`` is the
    name as typed when no zone has it, ``refusal`` the access decision's sentence for a refused account."""

    zone: str | None
    unknown: str = ""
    refusal: str = ""


def timezone_text(change: TimezoneChange) -> str:
    """The change as one sentence for the user (every platform says the same)."""
    if change.zone is not None:
        return f"Time zone set to {change.zone}."
    if change.refusal:
        return change.refusal
    shown = change.unknown if len(change.unknown) <= 60 else change.unknown[:60] + "…"
    return f"“{shown}” is not a time zone I know. Use an IANA name such as Europe/Paris or America/New_York."


class UserOperations:
    """Changes users make to their own history and settings; each keeps the cached windows honest."""

    def __init__(
        self,
        *,
        messages: MessageRepository,
        places: ConversationLookup,
        windows: WindowCache,
        waiting: WaitingMessages,
        locks: PlaceLocks,
        people: People,
        counter: TokenCounter,
        clock: Clock,
        default_timezone: str,
        pipeline: TurnPipeline | None = None,
    ) -> None:
        self.messages = messages
        self.places = places
        self.windows = windows
        self.waiting = waiting
        self.locks = locks
        self.people = people
        self.counter = counter
        self.clock = clock
        self.default_timezone = default_timezone
        self.pipeline = pipeline

    def _changed(self, conversation_id: int, message_id: int | None, kind: str) -> None:
        if self.pipeline is not None:
            self.pipeline.history_changed(
                HistoryChange(conversation_id, message_id, kind, timezone=self.default_timezone)
            )

    async def new_conversation(self, ref: ConversationRef) -> None:
        """Start afresh at this place: the next message opens a new conversation."""
        async with self.locks.hold(ref) as connection:  # never between a turn's lookup and its use
            conversation_id = await self.places.close(ref, connection)
            if conversation_id is not None:
                self.windows.forget(conversation_id)

    async def forget_last_exchange(self, ref: ConversationRef) -> bool:
        """Keep the last question and its answer out of the model's context from now on."""
        async with self.locks.hold(ref) as connection:
            conversation_id = await self.places.find_open(ref, connection=connection)
            if conversation_id is None:
                return False
            self.windows.forget(conversation_id)
            forgotten = await self.messages.forget_last_exchange(conversation_id) > 0
        if forgotten:
            self._changed(conversation_id, None, "forgotten")
        return forgotten

    async def edit_user_message(
        self, ref: ConversationRef, platform_message_id: str, new_text: str, *, edited_at: datetime | None = None
    ) -> bool:
        """The user changed a message on the platform; the stored history and the next context follow."""
        if self.waiting.edit(ref, platform_message_id, new_text):
            return True  # not stored yet: it will be answered as edited
        message = await self.messages.find_by_platform_id(ref, platform_message_id)
        if message is None or message.role != "user" or message.deleted_at is not None:
            return False
        if message.content == new_text:
            return True  # platforms report unchanged edits (link previews); nothing to do
        self.windows.forget(message.conversation_id)
        await self.messages.edit(
            message.id,
            content=new_text,
            token_count=self.counter.count(new_text),
            edited_at=edited_at or self.clock(),
        )
        self._changed(message.conversation_id, message.id, "edited")
        return True

    async def delete_user_message(
        self, ref: ConversationRef, platform_message_id: str, *, deleted_at: datetime | None = None
    ) -> bool:
        """The user deleted a message on the platform: its text is dropped and the model no longer sees it."""
        if self.waiting.delete(ref, platform_message_id):
            return True  # not stored yet: it will not be answered
        message = await self.messages.find_by_platform_id(ref, platform_message_id)
        if message is None or message.role != "user":
            return False
        self.windows.forget(message.conversation_id)
        await self.messages.mark_deleted(message.id, deleted_at=deleted_at or self.clock())
        self._changed(message.conversation_id, message.id, "deleted")
        return True

    async def forget_person(self, user_id: int, delete: Callable[[int], Awaitable[object]]) -> None:
        """``delete(user_id)`` removes the person's rows; then this process drops what it caches of them
        (context windows, open conversations, access decisions) so nothing points at rows that are gone."""
        conversations = await self.places.of_user(user_id)  # read while they still exist
        await delete(user_id)
        for conversation_id, ref, is_open in conversations:
            self.windows.forget(conversation_id)
            if is_open:  # the place's open conversation was theirs: forget the cached id
                await self.places.close(ref, None)
        await self.people.changed()

    async def history(self, ref: ConversationRef, *, limit: int = 20) -> list[StoredMessage]:
        """The newest messages of the open conversation at this place, oldest first."""
        conversation_id = await self.places.find_open(ref)
        if conversation_id is None:
            return []
        return await self.messages.history(conversation_id, limit=limit)

    async def set_timezone(self, identity: PlatformIdentity, name: str) -> TimezoneChange:
        """Set the user's time zone; what happened, for the caller to phrase (:func:`timezone_text`)."""
        canonical = canonical_zone(name)
        if canonical is None:
            return TimezoneChange(None, unknown=name)
        admission = await self.people.admit(identity)
        if admission.user is None:
            return TimezoneChange(None, refusal=admission.refusal)
        await self.people.set_timezone(admission.user.id, canonical)
        return TimezoneChange(canonical)

    async def user_timezone(self, identity: PlatformIdentity) -> str:
        """The user's time zone name (the default until they set one)."""
        admission = await self.people.admit(identity)
        user = admission.user
        return (user.timezone if user else None) or self.default_timezone
