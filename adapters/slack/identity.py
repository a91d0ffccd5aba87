"""Who wrote a Slack message: a PlatformIdentity keyed by the author's own team and user id, named from users.info.

Message events normally carry the author's team (``user_team``) but some do
not (e.g. some edited-message payloads).  Without it the same person would be a
second account (``slack::U…``) beside their slash commands' (``slack:T…:U…``)
and their history would split, so the team is learned once per member from
users.info (``user.team_id``, the member's own team; never the installation's).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.types import PlatformIdentity

log = logging.getLogger(__name__)

PLATFORM = "slack"


@dataclass(frozen=True, slots=True)
class Member:
    """What users.info says about a member: the name to show and their own team ("" when it does not say)."""

    name: str
    team: str


class SlackIdentities:
    """Builds identities, asking users.info once per member for the name to show and, when needed, the team."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._members: dict[str, Member] = {}
        self._pending: dict[str, asyncio.Future[Member | None]] = {}

    async def identity(self, team_id: str, user_id: str) -> PlatformIdentity:
        """The identity of ``user_id`` whose own team is ``team_id`` (the author's team, not the installation's).

        When the event did not say (``team_id`` ""), the member's team from users.info is used; if
        users.info cannot tell either, it stays "", which only a user-id allowlist entry such as
        ``slack:*:U123`` lets in.
        """
        member = await self._member(user_id)
        team = team_id or (member.team if member else "")
        return PlatformIdentity(PLATFORM, team, user_id, member.name if member else user_id)

    async def display_name(self, team_id: str, user_id: str) -> str:
        """The member's display name (real name, then handle); the user id when Slack does not say."""
        member = await self._member(user_id)
        return member.name if member else user_id

    async def _member(self, user_id: str) -> Member | None:
        """users.info for ``user_id``, asked once (concurrent askers share the answer); None when it failed."""
        if user_id in self._members:
            return self._members[user_id]
        pending = self._pending.get(user_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Member | None] = asyncio.get_running_loop().create_future()
        self._pending[user_id] = future
        try:
            member = await self._lookup(user_id)
            if member is not None:  # a failure is asked again next time
                self._members[user_id] = member
            future.set_result(member)
            return member
        finally:
            if not future.done():
                future.set_result(None)
            self._pending.pop(user_id, None)

    async def _lookup(self, user_id: str) -> Member | None:
        try:
            response = await self.client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info failed for %s: %s", user_id, exc)
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        team = user.get("team_id")
        name = user_id
        for candidate in (
            profile.get("display_name"),
            profile.get("real_name"),
            user.get("real_name"),
            user.get("name"),
        ):
            if isinstance(candidate, str) and candidate.strip():
                name = candidate.strip()
                break
        return Member(name, team if isinstance(team, str) else "")
