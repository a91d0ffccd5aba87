"""Discord's way out: post to a user's DMs or into a known channel, unprompted.

Posts go through the same :class:`DiscordSurface`, bot-wide budget and
post-with-retry path as answers (:func:`adapters.delivery.deliver`), so a
scheduled post never crowds out a streaming answer's edits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import aiohttp
import discord

from adapters.delivery import deliver
from adapters.discord.limits import DiscordBudget
from adapters.discord.mapping import PLATFORM, place_of
from adapters.discord.surface import DiscordSurface
from adapters.part_delivery import deliver_part
from adapters.rate_window import Priority
from core.messenger import Delivery, DeliveryError
from core.outbound import OutboundPart
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class DiscordMessenger:
    """Implements :class:`core.messenger.Messenger` for a connected discord.py client."""

    platform = PLATFORM

    def __init__(self, client: discord.Client, budget: DiscordBudget) -> None:
        self.client = client
        self.budget = budget
        self._dms: dict[int, discord.DMChannel] = {}
        self._opening = asyncio.Lock()  # jobs to one person at once open their DM once

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in the account's DM, opening it first when the bot has none with them yet."""
        if account.platform != PLATFORM or not account.user_id.isdigit():
            raise DeliveryError(f"{account.key} is not a Discord account")
        channel = await self._dm_channel(int(account.user_id))
        return await self._post(channel, place_of(channel.id, None), text, files)

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in a DM channel or thread the assistant already talks in."""
        if place.platform != PLATFORM or not place.channel.isdigit():
            raise DeliveryError(f"{place.platform}:{place.channel} is not a Discord channel")
        channel = self.client.get_partial_messageable(int(place.channel))
        return await self._post(channel, place, text, files)

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """Post one part of a scheduled post in the account's DM, once (see :mod:`adapters.part_delivery`)."""
        if account.platform != PLATFORM or not account.user_id.isdigit():
            raise DeliveryError(f"{account.key} is not a Discord account")
        channel = await self._dm_channel(int(account.user_id))
        own = self.client.user.id if self.client.user is not None else None
        surface = DiscordSurface(channel, channel.id, self.budget, own_id=own)
        message_ids = await deliver_part(surface, part, earlier_try=earlier_try)
        return Delivery(PLATFORM, place_of(channel.id, None), tuple(message_ids))

    async def _post(
        self,
        channel: discord.abc.Messageable,
        place: ConversationRef,
        text: str,
        files: Sequence[OutgoingFile],
    ) -> Delivery:
        surface = DiscordSurface(channel, int(place.channel), self.budget)
        message_ids = await deliver(surface, text, files)
        return Delivery(PLATFORM, place, tuple(message_ids))

    async def _dm_channel(self, user_id: int) -> discord.DMChannel:
        """The DM channel with a user: remembered, or fetched and opened (GET /users, POST /users/@me/channels)."""
        async with self._opening:
            channel = self._dms.get(user_id)
            if channel is None:
                channel = self._dms[user_id] = await self._open_dm(user_id)
            return channel

    async def _open_dm(self, user_id: int) -> discord.DMChannel:
        user = self.client.get_user(user_id)
        try:
            if user is None:
                await self.budget.rates.acquire((self.budget.global_window,), Priority.FIRST)
                user = await self.client.fetch_user(user_id)
            if user.dm_channel is not None:
                return user.dm_channel
            await self.budget.rates.acquire((self.budget.global_window,), Priority.FIRST)
            return await user.create_dm()
        except discord.NotFound as exc:
            raise DeliveryError(f"Discord knows no user {user_id}") from exc
        except discord.HTTPException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise DeliveryError(
                f"Discord refused to open a DM with user {user_id}: {exc.status}", retryable=retryable
            ) from exc
        except _NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc
