"""What the assistant does with Slack messages: DMs, mentions and thread replies, edits and deletes.

The Bolt listeners (adapters/slack/listeners/) only pick the right method here;
this module maps the payload to the core's types and hands the turn to the
:class:`AnswerRunner`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.budgeted_call import BudgetedCalls
from adapters.inbound import Arrival, InboundPipeline
from adapters.rate_window import Priority
from adapters.slack.answers import AnswerRunner
from adapters.slack.files import FileFetcher
from adapters.slack.identity import SlackIdentities
from adapters.slack.mapping import addressed, author_team, dm_ref, is_direct, thread_ref, ts_to_datetime
from adapters.slack.mrkdwn import from_slack_text
from adapters.slack.surface import SlackSurface
from adapters.slack.threads import ActiveThreads
from adapters.slack.workspace import Workspaces
from adapters.strangers import StrangerGate
from adapters.surface import DeliveryError, RateLimited
from core.chat import ChatService
from core.types import ConversationRef, IncomingMessage, PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A user's message, as far as the assistant cares."""

    team_id: str  # the workspace the event was delivered for (the app's installation)
    channel: str
    user_id: str
    ts: str
    text: str
    reply_thread: str  # where to answer: "" for the channel itself, else the thread's ts
    conversation: ConversationRef
    files: tuple[dict[str, Any], ...] = ()
    user_team: str = ""  # the author's own team (``user_team``); "" when Slack did not say
    opens_thread: bool = False  # a mention: the thread becomes a conversation once the author is let in


class SurfaceFactory:
    """Builds the surface for a channel or thread, on the workspace's shared budget."""

    def __init__(self, client: AsyncWebClient, workspaces: Workspaces) -> None:
        self.client = client
        self.workspaces = workspaces

    def __call__(self, team_id: str, channel: str, thread_ts: str = "") -> SlackSurface:
        return SlackSurface(
            client=self.client, workspace=self.workspaces.get(team_id), channel=channel, thread_ts=thread_ts
        )

    def for_conversation(self, ref: ConversationRef) -> SlackSurface:
        return self(ref.workspace, ref.channel, ref.thread)


class ConversationHandler:
    """Turns Slack message events into turns of the core (and edits of its history)."""

    def __init__(
        self,
        *,
        chat: ChatService,
        answers: AnswerRunner,
        surfaces: SurfaceFactory,
        identities: SlackIdentities,
        files: FileFetcher,
        threads: ActiveThreads,
        gate: StrangerGate,
    ) -> None:
        """``gate`` decides access before any work (the process's one gate, refusing a stranger once per 10 minutes)."""
        self.chat = chat
        self.gate = gate
        self.inbound = InboundPipeline(chat, self.gate)
        self.answers = answers
        self.surfaces = surfaces
        self.identities = identities
        self.files = files
        self.threads = threads

    # -- events --------------------------------------------------------------------------

    async def on_message(self, event: dict[str, Any], team_id: str, bot_user_id: str) -> None:
        """A ``message`` event: a DM, a reply in one of our threads, an edit or a delete."""
        subtype = event.get("subtype")
        if subtype == "message_changed":
            await self.on_changed(event, team_id, bot_user_id)
            return
        if subtype == "message_deleted":
            await self.on_deleted(event, team_id)
            return
        where = addressed(event, team_id, bot_user_id)
        if where is None:
            return
        ref, reply_thread, if_ours = where
        if if_ours and not await self.threads.is_active(ref):
            return
        await self.answer(self._user_message(event, team_id, ref, reply_thread, bot_user_id))

    async def on_mention(self, event: dict[str, Any], team_id: str, bot_user_id: str) -> None:
        """``app_mention`` in a channel: the thread it starts (or is in) becomes a conversation."""
        if event.get("bot_id") or not event.get("user"):
            return
        channel = str(event.get("channel", ""))
        if is_direct(event.get("channel_type"), channel):
            return  # a DM arrives as a message event too
        thread = str(event.get("thread_ts") or event.get("ts") or "")
        ref = thread_ref(team_id, channel, thread)
        message = self._user_message(event, team_id, ref, thread, bot_user_id)
        await self.answer(dataclasses.replace(message, opens_thread=True))

    async def on_changed(self, event: dict[str, Any], team_id: str, bot_user_id: str) -> None:
        """message_changed: the stored user message (and so the model's context) follows the edit."""
        message = event.get("message") or {}
        if message.get("bot_id") or not message.get("ts"):
            return
        channel = str(event.get("channel", ""))
        ref = self._ref_of(team_id, channel, event.get("channel_type"), message)
        text = from_slack_text(str(message.get("text") or ""), bot_user_id=bot_user_id)
        if await self.chat.edit_user_message(ref, str(message["ts"]), text):
            log.info("message %s in %s edited by its author", message["ts"], channel)

    async def on_deleted(self, event: dict[str, Any], team_id: str) -> None:
        """message_deleted: the stored user message is blanked and leaves the model's context."""
        ts = str(event.get("deleted_ts") or "")
        if not ts:
            return
        previous = event.get("previous_message") or {"ts": ts}
        if previous.get("bot_id"):
            return
        channel = str(event.get("channel", ""))
        ref = self._ref_of(team_id, channel, event.get("channel_type"), {**previous, "ts": ts})
        if await self.chat.delete_user_message(ref, ts):
            log.info("message %s in %s deleted by its author", ts, channel)

    # -- answering ------------------------------------------------------------------------

    async def answer(self, message: UserMessage) -> None:
        """Answer one user message where it was written (once, even if Slack delivers it again).

        The message is claimed first (a redelivery, to this process or another one sharing
        the database, is dropped), then access is decided: a stranger's message registers
        no thread and downloads nothing; the refusal is sent once per window.
        """

        async def author() -> PlatformIdentity:
            # The author's own team, never the installation's: a Slack Connect guest (or, on
            # Enterprise Grid, a member of another workspace) is not ``slack:<our team>:*``.
            return await self.identities.identity(message.user_team, message.user_id)

        arrival = Arrival(message.conversation, message.ts, ts_to_datetime(message.ts))
        admitted = await self.inbound.admit(arrival, author, partial(self._refuse, message))
        if admitted is None:
            return
        if message.opens_thread:
            self.threads.add(message.conversation)
        surface = self.surfaces(message.team_id, message.channel, message.reply_thread)
        if not message.text.strip() and not message.files:
            return
        incoming = IncomingMessage(
            conversation=message.conversation,
            author=admitted.author,
            text=message.text,
            received_at=ts_to_datetime(message.ts),
            platform_message_id=message.ts,
        )
        # The files are downloaded when the message's turn comes, so it keeps its place in line
        # from its arrival (a photo sent just before a text is answered first).
        fetch = partial(self.files.fetch, message.files) if message.files else None
        await self.answers.answer(incoming, surface, fetch_files=fetch, admission=admitted.admission)

    def _user_message(
        self, event: dict[str, Any], team_id: str, ref: ConversationRef, reply_thread: str, bot_user_id: str
    ) -> UserMessage:
        files: Sequence[dict[str, Any]] = event.get("files") or ()
        return UserMessage(
            team_id=team_id,
            channel=str(event.get("channel", "")),
            user_id=str(event["user"]),
            ts=str(event.get("ts", "")),
            text=from_slack_text(str(event.get("text") or ""), bot_user_id=bot_user_id),
            reply_thread=reply_thread,
            conversation=ref,
            files=tuple(f for f in files if isinstance(f, dict)),
            user_team=author_team(event),
        )

    @staticmethod
    def _ref_of(team_id: str, channel: str, channel_type: str | None, message: dict[str, Any]) -> ConversationRef:
        if is_direct(channel_type, channel):
            return dm_ref(team_id, channel)
        return thread_ref(team_id, channel, str(message.get("thread_ts") or message.get("ts") or ""))

    async def _refuse(self, message: UserMessage, refusal: str) -> None:
        """Tell a stranger, and only them: in their DM, or as a message only they see in a channel.

        A refusal may carry a sign-in link bound to the stranger's account, which
        must never be shown to the rest of a channel.
        """
        surface = self.surfaces(message.team_id, message.channel, message.reply_thread)
        if message.conversation.thread == "":
            await self._say(surface, surface.format_note(refusal))
            return
        try:
            await surface.client.chat_postEphemeral(
                channel=message.channel,
                user=message.user_id,
                text=surface.format_note(refusal),
                thread_ts=message.reply_thread or None,
            )
        except Exception as exc:  # noqa: BLE001 - a refusal that cannot be delivered is only logged
            log.warning("could not tell %s in %s that they are not let in: %s", message.user_id, message.channel, exc)

    async def _say(self, surface: SlackSurface, text: str) -> None:
        """Post one line outside any answer, within the channel's post budget."""
        calls = BudgetedCalls(surface.budget)
        try:
            await calls.call(surface.windows("post"), Priority.FIRST, lambda: surface.post(text), what="post")
        except (DeliveryError, RateLimited) as exc:
            log.warning("could not post in %s: %s", surface.channel, exc)
