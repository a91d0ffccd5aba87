"""`speak`: the assistant starts a turn itself, in a person's conversation, and the history keeps it.

A message the assistant sends unprompted (a reminder, the daily post, a reconnect
link) is either a fixed text or a prompt the model answers with the
conversation's context (:mod:`core.speak.compose`). It goes to the person's
direct messages on the platform preferred, else on their other platforms, most
recently used first. Each post carries the caller's idempotency key through the
platforms' part messengers (the same renderer and rate budget as answers), and
is recorded before it is sent (:mod:`core.speak.records`): a retry after a crash
looks for the earlier post instead of posting twice, and a key already spoken is
never posted again. The delivered text is stored as an assistant message of the
conversation it landed in, so the model knows later what it said there.

A DM refused for good (closed, the account gone) is reported: the message goes to
the next platform with a note saying so, and when every platform refuses,
:class:`Unreachable` tells the caller, who decides whether to try again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.buttons import Button
from core.clock import Clock
from core.db.database import Database
from core.db.repositories import ConversationRepository
from core.messenger import Delivery, DeliveryError, Outbox
from core.outbound import OutboundPart, PartMessenger
from core.speak.compose import Composer
from core.speak.records import SENDING, SENT, SpokenRecord, SpokenRecords
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A platform that refused the post for good, and why (one sentence)."""

    platform: str
    reason: str


@dataclass(frozen=True)
class Spoken:
    """Where a message landed, the conversation (ours) and the assistant message that now hold it."""

    delivery: Delivery
    conversation_id: int
    message_id: int
    text: str
    refused: tuple[Refusal, ...] = ()
    again: bool = False  # spoken under this key before: nothing was posted this time


class Unreachable(DeliveryError):
    """Every account of the person refused the post for good (closed DMs): trying again at once cannot help."""

    def __init__(self, refused: Sequence[Refusal]) -> None:
        self.refused = tuple(refused)
        reasons = "; ".join(f"{r.platform}: {r.reason}" for r in self.refused)
        super().__init__(f"no platform accepts my message ({reasons})", retryable=False)


BeforeSend = Callable[[PlatformIdentity], Awaitable[None]]
FallbackNote = Callable[[tuple[Refusal, ...]], str]
Count = Callable[[str], int]
Chosen = Callable[[Mapping[str, Any]], str | None]


def fallback_note(refused: tuple[Refusal, ...]) -> str:
    """What a message sent on another platform adds about the first one that refused it."""
    first = refused[0]
    return f"\n(I could not reach you on {first.platform}: {first.reason}.)"


class Speak:
    """The assistant speaking first. Built once per process; call it (see :meth:`__call__`)."""

    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        *,
        clock: Clock,
        composer: Composer | None = None,
        count: Count | None = None,
        chosen: Chosen | None = None,
    ) -> None:
        """`composer` writes the prompt form's text (without it only fixed texts are spoken); `count`
        counts a stored message's tokens for the model's context window; `chosen` reads the platform a
        person chose for what the assistant says first from their settings (tried first by default)."""
        self.outbox = outbox
        self.clock = clock
        self.composer = composer
        self.count = count
        self.chosen = chosen
        self.records = SpokenRecords(database)
        self._conversations = ConversationRepository(database, clock=clock)

    async def __call__(
        self,
        user_id: int,
        *,
        key: str,
        text: str | None = None,
        prompt: str | None = None,
        prefer_platform: str | None = None,
        conversation: ConversationRef | None = None,
        files: Sequence[OutgoingFile] = (),
        buttons: tuple[Button, ...] = (),
        only: PlatformIdentity | None = None,
        remember: str | None = None,
        before_send: BeforeSend | None = None,
        note: FallbackNote = fallback_note,
        accounts: Sequence[PlatformIdentity] | None = None,
        fresh: bool = False,
    ) -> Spoken:
        """Say `text` (or the model's answer to `prompt`) to the person, once per `key`.

        `prefer_platform` (else `conversation`'s platform, else the one the person chose) is tried
        first, then the person's other accounts, most recently used first. `conversation` is the
        place whose context the prompt form reads (default: the person's latest conversation on the
        platform tried first). `files` follow the text; `buttons` go under it (:mod:`core.buttons`).
        `only` sends to that one account and no other (a link bound to it). `remember` is what the
        history keeps instead of the text, when the text holds a secret (a single-use link) the model
        must not see. `before_send` runs before each account is tried (a caller's lease check may
        raise there: nothing is sent then); `note` is what a message sent elsewhere adds about the
        platforms that refused it. `accounts` are the person's accounts as :meth:`accounts` orders them,
        when the caller looked them up already (those on a platform disconnected since are skipped); `fresh` says the caller made `key` and never spoke under
        it (there is no record to look up).

        Raises :class:`Unreachable` when every account refused for good, :class:`DeliveryError`
        (``retryable``) for passing trouble (a retry with the same key resumes), and
        :class:`core.llm.ModelError` when the prompt form's model call fails (nothing was posted).
        """
        if (text is None) == (prompt is None):
            raise ValueError("speak takes either a text or a prompt")
        known = None if fresh else await self.records.get(key)
        if known is not None and known.state == SENT:
            return await self._again(known)
        prefer = prefer_platform or (conversation.platform if conversation is not None else None)
        if only is not None:
            accounts = [only]
        elif accounts is None:
            accounts = await self.accounts(user_id, prefer_platform=prefer)
        else:  # looked up a while ago: a platform disconnected since is not tried (the next one is)
            connected = self.outbox.platforms
            accounts = [a for a in accounts if a.platform in connected]
        if known is not None and known.state == SENDING and only is None:
            # A send began there: a retry must look where it may have landed.
            accounts = [known.identity, *(a for a in accounts if a != known.identity)]
        if not accounts:
            raise DeliveryError(f"user {user_id} has no account on a connected platform", retryable=True)
        if known is not None and known.state == SENDING and not known.error:
            base = known.text  # the try that crashed may have posted this very text
        elif text is not None:
            base = text
        else:
            base = await self._compose(user_id, prompt or "", conversation, accounts[0].platform)
        refused: list[Refusal] = []
        for account in accounts:
            said_elsewhere = note(tuple(refused)) if refused else ""
            body = base + said_elsewhere
            if before_send is not None:
                await before_send(account)
            record, earlier = await self.records.begin(key, user_id, account, body, self.clock())
            try:
                delivery = await self._post(account, key, record.text, files, buttons, earlier)
            except DeliveryError as exc:
                if exc.retryable:
                    await self.records.failed(key, exc.reason)
                    raise
                log.warning("speak %s: %s refused it for good: %s", key, account.platform, exc.reason)
                refused.append(Refusal(account.platform, exc.reason))
                continue
            conversation_id = await self._conversations.open_for(delivery.conversation, user_id)
            kept = record.text if remember is None else remember + said_elsewhere
            message_id = await self.records.sent(
                record, content=kept, conversation_id=conversation_id, message_ids=delivery.message_ids,
                now=self.clock(), token_count=self.count(kept) if self.count is not None else 0,
                attachments=[{"kind": "file", "filename": f.filename, "content_type": f.content_type} for f in files],
            )  # fmt: skip
            log.info("speak %s: delivered on %s", key, account.platform)
            return Spoken(delivery, conversation_id, message_id, kept, tuple(refused))
        await self.records.refused(key, "; ".join(f"{r.platform}: {r.reason}" for r in refused))
        raise Unreachable(refused)

    async def accounts(self, user_id: int, *, prefer_platform: str | None = None) -> list[PlatformIdentity]:
        """The person's accounts on connected platforms in the order speak tries them: `prefer_platform`,
        else the one they chose, first; then the most recently used."""
        if prefer_platform is None and self.chosen is not None:
            prefer_platform = self.chosen(await self.records.settings_of(user_id))
        return await self.outbox.accounts_for(user_id, prefer_platform=prefer_platform)

    async def _compose(self, user_id: int, prompt: str, place: ConversationRef | None, platform: str) -> str:
        if self.composer is None:
            raise ValueError("this speak has no model to write a prompt's message")
        if place is not None:
            conversation_id = await self._conversations.find_open(place)
        else:
            conversation_id = await self.composer.latest_conversation(user_id, platform)
        written = await self.composer.compose(user_id, conversation_id, prompt)
        if not written:
            raise DeliveryError("the model wrote nothing to say", retryable=True)
        return written

    async def _post(
        self,
        account: PlatformIdentity,
        key: str,
        text: str,
        files: Sequence[OutgoingFile],
        buttons: tuple[Button, ...],
        earlier: datetime | None,
    ) -> Delivery:
        messenger = self.outbox.messenger(account.platform)
        if messenger is None:
            raise DeliveryError(f"{account.platform} is not connected right now", retryable=True)
        if not isinstance(messenger, PartMessenger):
            return await messenger.send_to_account(account, text, files)
        delivery = await messenger.send_part(
            account, OutboundPart(key, text=text, buttons=buttons), earlier_try=earlier
        )
        ids = list(delivery.message_ids)
        for number, file in enumerate(files):
            part = OutboundPart(f"{key}:file{number}", file=file)
            ids.extend((await messenger.send_part(account, part, earlier_try=earlier)).message_ids)
        return Delivery(delivery.platform, delivery.conversation, tuple(ids))

    async def _again(self, known: SpokenRecord) -> Spoken:
        place = await self.records.place_of(known.conversation_id) if known.conversation_id else None
        conversation = place or ConversationRef(known.platform, known.workspace, "")
        delivery = Delivery(known.platform, conversation, tuple(known.message_ids))
        return Spoken(delivery, known.conversation_id or 0, known.message_id or 0, known.text, again=True)
