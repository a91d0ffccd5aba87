"""Slack's way out: post to a member's DM or into a known conversation, unprompted.

The DM is opened with ``conversations.open(users=U…)`` (scope ``im:write``)
and remembered; text goes out with chat.postMessage through the same
:class:`SlackSurface`, workspace budget, mrkdwn conversion and splitting as
answers (:func:`adapters.delivery.deliver`), files with files_upload_v2.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.budgeted_call import SENT_ONCE, BudgetedCalls
from adapters.delivery import deliver
from adapters.part_delivery import deliver_part
from adapters.rate_window import Priority
from adapters.slack.conversations import SurfaceFactory
from adapters.slack.identity import PLATFORM
from adapters.slack.mapping import dm_ref
from adapters.slack.surface import retry_after, slack_error_code
from adapters.surface import RateLimited
from core.messenger import Delivery, DeliveryError
from core.outbound import OutboundPart
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)

# conversations.open errors that mean the member cannot be reached this way at all.
_UNREACHABLE = {
    "user_not_found": "Slack knows no member {user}",
    "user_disabled": "the Slack account {user} is deactivated",
    "cannot_dm_bot": "{user} is a bot, which cannot be sent direct messages",
    "user_not_visible": "the bot cannot see the Slack member {user}",
    "missing_scope": "the Slack app lacks the im:write scope to open a DM with {user}",
}


class SlackMessenger:
    """Implements :class:`core.messenger.Messenger` for one Slack app."""

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, surfaces: SurfaceFactory) -> None:
        self.client = client
        self.surfaces = surfaces
        self._dms: dict[tuple[str, str], str] = {}
        self._opening = asyncio.Lock()  # jobs to one person at once open their DM once

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in the member's DM with the app, opening it first when needed."""
        if account.platform != PLATFORM or not account.user_id:
            raise DeliveryError(f"{account.key} is not a Slack account")
        channel = await self._dm_channel(account.workspace, account.user_id)
        return await self.send_to_conversation(dm_ref(account.workspace, channel), text, files)

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in a DM or a thread (``place.thread`` is the thread's ts) of the workspace ``place.workspace``."""
        if place.platform != PLATFORM or not place.channel:
            raise DeliveryError(f"{place.platform}:{place.channel} is not a Slack conversation")
        surface = self.surfaces.for_conversation(place)
        message_ids = await deliver(surface, text, files)
        return Delivery(PLATFORM, place, tuple(message_ids))

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """Post one part of a scheduled post in the member's DM, once (see :mod:`adapters.part_delivery`)."""
        if account.platform != PLATFORM or not account.user_id:
            raise DeliveryError(f"{account.key} is not a Slack account")
        channel = await self._dm_channel(account.workspace, account.user_id)
        place = dm_ref(account.workspace, channel)
        message_ids = await deliver_part(self.surfaces.for_conversation(place), part, earlier_try=earlier_try)
        return Delivery(PLATFORM, place, tuple(message_ids))

    async def _dm_channel(self, team_id: str, user_id: str) -> str:
        """The DM channel id with a member, from memory or conversations.open (rate limits waited out)."""
        async with self._opening:
            key = (team_id, user_id)
            if key not in self._dms:
                self._dms[key] = await self._open_dm(team_id, user_id)
            return self._dms[key]

    async def _open_dm(self, team_id: str, user_id: str) -> str:
        workspace = self.surfaces.workspaces.get(team_id)

        async def send() -> str:
            try:
                response = await self.client.conversations_open(users=user_id)
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    raise RateLimited(retry_after(exc)) from exc
                code = slack_error_code(exc)
                reason = _UNREACHABLE.get(code, "Slack refused to open a DM with {user} (" + code + ")")
                raise DeliveryError(reason.format(user=user_id), retryable=code not in _UNREACHABLE) from exc
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryError(f"Slack could not be reached: {type(exc).__name__}", retryable=True) from exc
            return str((response.get("channel") or {}).get("id") or "")

        calls = BudgetedCalls(workspace.budget)
        try:
            channel = await calls.call(
                (workspace.open,), Priority.FIRST, send, what="conversations.open", policy=SENT_ONCE
            )
        except RateLimited as exc:
            raise DeliveryError(f"Slack kept rate limiting conversations.open for {user_id}", retryable=True) from exc
        if not channel:
            raise DeliveryError(f"Slack opened no DM channel for {user_id}", retryable=True)
        return channel
