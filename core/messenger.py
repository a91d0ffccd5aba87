"""Outbound messages: post text or files to a person or a conversation unprompted.

Scheduled jobs (the daily log), the web server (sign-in confirmations,
reconnect prompts) and commands reach people through one :class:`Outbox`.
Each platform adapter registers a :class:`Messenger` once it is connected; a
messenger posts through the platform's shared renderer and rate budget, with
the platform's own retry and 429 handling, so there is one post-with-retry path
per platform whatever the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.types import ConversationRef, OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a post landed: the platform, the conversation and its platform message ids."""

    platform: str
    conversation: ConversationRef
    message_ids: tuple[str, ...]


class DeliveryError(Exception):
    """A post (or one platform call of it) could not be made. ``reason`` is one sentence, safe to log and show the owner.

    ``retryable``: trying again later may work (the platform is away); False when it cannot help (the user closed
    their DMs, the request is invalid). ``gone``: the message the call was about no longer exists.
    """

    def __init__(self, reason: str, *, retryable: bool = False, gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.gone = gone


class Messenger(Protocol):
    """One platform's way out. Implemented by each adapter (Discord, Slack, terminal) and the web app."""

    platform: str

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in the account's direct messages (opening the DM if needed)."""
        ...

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in a known conversation (a DM channel or a thread)."""
        ...


class AccountDirectory(Protocol):
    """Finds the platform accounts of a user, most recently active first."""

    async def accounts_of(self, user_id: int) -> list[PlatformIdentity]: ...


class Outbox:
    """The messengers of the running platforms, and delivery to a person on the right one."""

    def __init__(self, directory: AccountDirectory) -> None:
        self.directory = directory
        self._messengers: dict[str, Messenger] = {}
        self._own: dict[str, AccountDirectory] = {}  # platforms whose accounts are not the people's (the web)

    def register(self, messenger: Messenger, *, accounts: AccountDirectory | None = None) -> None:
        """Called by an adapter once its platform is connected. `accounts`: where a platform without sign-in
        accounts of its own (the web app) finds a person's; they come after the person's chat accounts."""
        self._messengers[messenger.platform] = messenger
        if accounts is not None:
            self._own[messenger.platform] = accounts

    def unregister(self, platform: str) -> None:
        """Called by an adapter when it stops."""
        self._messengers.pop(platform, None)
        self._own.pop(platform, None)

    async def _accounts_of(self, user_id: int) -> list[PlatformIdentity]:
        accounts = list(await self.directory.accounts_of(user_id))  # a copy: the directory may cache its list
        for directory in list(self._own.values()):
            accounts.extend(await directory.accounts_of(user_id))
        return accounts

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self._messengers)

    def messenger(self, platform: str) -> Messenger | None:
        return self._messengers.get(platform)

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post to one platform account's DM."""
        messenger = self._messengers.get(account.platform)
        if messenger is None:
            raise DeliveryError(f"{account.platform} is not connected right now", retryable=True)
        return await messenger.send_to_account(account, text, files)

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Post in a conversation on its own platform."""
        messenger = self._messengers.get(place.platform)
        if messenger is None:
            raise DeliveryError(f"{place.platform} is not connected right now", retryable=True)
        return await messenger.send_to_conversation(place, text, files)

    async def can_reach(self, user_id: int) -> bool:
        """Whether the person has an account on a platform connected in this process."""
        return any(account.platform in self._messengers for account in await self._accounts_of(user_id))

    async def accounts_for(self, user_id: int, *, prefer_platform: str | None = None) -> list[PlatformIdentity]:
        """The person's accounts on connected platforms, in the order :meth:`send_to_user` tries them."""
        return self._ordered(await self._accounts_of(user_id), prefer_platform)

    def _ordered(self, accounts: list[PlatformIdentity], prefer_platform: str | None) -> list[PlatformIdentity]:
        reachable = [a for a in accounts if a.platform in self._messengers]
        if prefer_platform:
            preferred = [a for a in reachable if a.platform == prefer_platform]
            reachable = preferred + [a for a in reachable if a.platform != prefer_platform]
        return reachable

    async def send_to_user(
        self,
        user_id: int,
        text: str,
        files: Sequence[OutgoingFile] = (),
        *,
        prefer_platform: str | None = None,
    ) -> Delivery:
        """Post to a person in their DM: on ``prefer_platform`` when they have an account there
        and it is connected, otherwise on the platform they used most recently."""
        accounts = await self._accounts_of(user_id)
        reachable = self._ordered(accounts, prefer_platform)
        if not reachable:
            raise DeliveryError(f"user {user_id} has no account on a connected platform", retryable=bool(accounts))
        last_error: DeliveryError | None = None
        for account in reachable:
            try:
                return await self._messengers[account.platform].send_to_account(account, text, files)
            except DeliveryError as exc:
                log.warning("delivery to user %s on %s failed: %s", user_id, account.platform, exc.reason)
                last_error = exc
        assert last_error is not None
        raise last_error
