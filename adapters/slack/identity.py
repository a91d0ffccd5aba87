"""Who wrote a Slack message: a PlatformIdentity keyed by workspace and user id, named from users.info."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.types import PlatformIdentity

log = logging.getLogger(__name__)

PLATFORM = "slack"


class SlackIdentities:
    """Builds identities, asking users.info once per member for the name to show."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._names: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[str]] = {}

    async def identity(self, team_id: str, user_id: str) -> PlatformIdentity:
        """The identity of ``user_id`` whose own team is ``team_id`` (the author's team, not the installation's;
        "" when Slack did not say, which only a user-id allowlist entry such as ``slack:*:U123`` lets in)."""
        return PlatformIdentity(PLATFORM, team_id, user_id, await self.display_name(team_id, user_id))

    async def display_name(self, team_id: str, user_id: str) -> str:
        """The member's display name (real name, then handle); the user id when Slack does not say."""
        key = (team_id, user_id)
        if key in self._names:
            return self._names[key]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            name = await self._lookup(user_id)
            self._names[key] = name
            future.set_result(name)
            return name
        finally:
            if not future.done():
                future.set_result(user_id)
            self._pending.pop(key, None)

    async def _lookup(self, user_id: str) -> str:
        try:
            response = await self.client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
            return user_id
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return user_id
