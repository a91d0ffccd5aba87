"""A Discord channel or thread as a render Surface.

Answers are posted with link previews (embeds) suppressed unless the user turned them
on: a link planted in an answer would otherwise be fetched by Discord's crawler
without anyone clicking it. The flag goes with every create and every edit.

A post that failed on the network may still have been created.  Every post
carries a ``nonce`` with ``enforce_nonce`` (discord.py sets it), and when a
post of the same text is tried again after a network failure it reuses that
nonce, so Discord returns the message it already made instead of a second one.
A scheduled post's part carries a nonce made from its stored idempotency key
(``post_keyed``, ``upload_keyed``), the same in any process that retries it,
and the bot's own posts can be read back (``own_posts_since``) for a retry
that comes after Discord has forgotten the nonce.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
import discord

from adapters.budget import RateBudget
from adapters.discord.buttons import view_of
from adapters.discord.limits import MAX_MESSAGE_CHARS, DiscordBudget
from adapters.part_delivery import OwnPost
from adapters.rate_window import Priority, SlidingWindow
from adapters.surface import DeliveryError, RateLimited, SurfaceLimits
from core.buttons import Button
from core.types import OutgoingFile

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# discord.py passes connection failures through unchanged.
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
# How far before an earlier try its posts are looked for (our clock against Discord's), and how many.
READ_BACK_SKEW = timedelta(minutes=5)
READ_BACK_LIMIT = 300


def nonce_of(key: str) -> int:
    """The Discord nonce (a 63-bit integer) of an idempotency key: the same in every process."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1


class DiscordSurface:
    """Posts and edits the bot's messages in one channel, within the bot-wide budget."""

    limits = SurfaceLimits(max_chars=MAX_MESSAGE_CHARS, marker=" ▌", placeholder="▌")

    def __init__(
        self,
        channel: discord.abc.Messageable,
        channel_id: int,
        budget: DiscordBudget,
        *,
        reply_to: discord.Message | discord.PartialMessage | None = None,
        own_id: int | None = None,
        previews: bool = False,
    ) -> None:
        """`own_id` is the bot's user id, for reading its own posts back; `previews` lets Discord show link previews."""
        self.channel = channel
        self.suppress_embeds = not previews
        self._posted: dict[int, discord.Message] = {}  # this surface's posts, edited with their flags
        self.own_id = own_id
        self.channel_id = channel_id
        self._budget = budget
        self.budget: RateBudget = budget.rates
        self.reply_to = reply_to
        # (text, nonce, reference) of a post whose answer the network lost
        self._unsure: tuple[str, int, discord.Message | discord.PartialMessage | None] | None = None

    def windows(self, action: str) -> Sequence[SlidingWindow]:
        return self._budget.windows(self.channel_id, action)

    def routine_interval(self) -> float:
        return self._budget.routine_interval()

    def format_text(self, markdown: str) -> str:
        return markdown  # Discord speaks Markdown

    def format_status(self, status: str) -> str:
        return f"-# {status}"

    def format_note(self, note: str) -> str:
        return f"-# ⚠️ {note}"

    async def post(self, text: str) -> str:
        if self._unsure is not None and self._unsure[0] == text:
            _, nonce, reference = self._unsure  # the same post again: Discord dedupes it by the nonce
        else:
            nonce, reference = secrets.randbits(63), self.reply_to
        self.reply_to = None  # only the first part answers the user's message
        self._unsure = None
        try:
            message = (
                await self.channel.send(
                    text,
                    reference=reference,
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                    nonce=nonce,
                    suppress_embeds=self.suppress_embeds,
                )
                if reference is not None
                else await self.channel.send(
                    text, allowed_mentions=NO_MENTIONS, nonce=nonce, suppress_embeds=self.suppress_embeds
                )
            )
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            self._unsure = (text, nonce, reference)
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc
        self._remember(message)
        return str(message.id)

    def _remember(self, message: discord.Message) -> None:
        self._posted[message.id] = message
        while len(self._posted) > 50:  # a long answer has a few parts; keep the newest
            del self._posted[next(iter(self._posted))]

    async def post_keyed(self, text: str, key: str, buttons: Sequence[Button] = ()) -> str:
        """Post with the key's nonce (and `buttons` under it): Discord dedupes a retry within a few minutes."""
        if buttons:
            return await self._send_keyed(key, text, view=view_of(buttons))
        return await self._send_keyed(key, text)

    async def upload_keyed(self, file: OutgoingFile, key: str) -> str:
        """Upload with the key's nonce; returns the message id."""
        return await self._send_keyed(
            key,
            file.description[:1900] if file.description else None,
            file=discord.File(
                io.BytesIO(file.data), filename=file.filename, description=file.description[:1000] or None
            ),
        )

    async def _send_keyed(self, key: str, text: str | None, **extra: object) -> str:
        try:
            message = await self.channel.send(  # type: ignore[call-overload]
                text, allowed_mentions=NO_MENTIONS, nonce=nonce_of(key), suppress_embeds=self.suppress_embeds, **extra
            )
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc
        return str(message.id)

    async def own_posts_since(self, since: datetime) -> list[OwnPost] | None:
        """The bot's messages here from a little before `since` on (Discord keeps no nonce to match by)."""
        if self.own_id is None:
            return None
        await self.budget.acquire((self._budget.global_window,), Priority.FIRST)
        found: list[OwnPost] = []
        try:
            async for message in self.channel.history(
                after=since - READ_BACK_SKEW, limit=READ_BACK_LIMIT, oldest_first=True
            ):
                if message.author.id == self.own_id:
                    names = tuple(a.filename for a in message.attachments)
                    found.append(OwnPost(str(message.id), message.content, names))
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            log.warning("could not read back the bot's posts in %s: %s", self.channel_id, exc)
            return None
        return found

    async def edit(self, message_id: str, text: str) -> None:
        posted = self._posted.get(int(message_id))
        try:
            if posted is not None:
                # Message.edit sends the flags (PartialMessage.edit cannot), so the edit keeps previews off.
                self._remember(
                    await posted.edit(content=text, allowed_mentions=NO_MENTIONS, suppress=self.suppress_embeds)
                )
            else:
                # A post of an earlier run: Discord keeps the flags it was created with when an edit sends none.
                partial = self.channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
                await partial.edit(content=text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc

    async def show_buttons(self, message_id: str, text: str, buttons: Sequence[Button]) -> None:
        """Show `buttons` under one of our messages (its text stays as it is)."""
        try:
            await self.channel.get_partial_message(int(message_id)).edit(view=view_of(buttons))  # type: ignore[attr-defined]
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc

    async def delete(self, message_id: str) -> None:
        partial = self.channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
        try:
            await partial.delete()
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc

    async def upload(self, file: OutgoingFile) -> None:
        try:
            await self.channel.send(
                file.description[:1900] if file.description else None,
                file=discord.File(
                    io.BytesIO(file.data), filename=file.filename, description=file.description[:1000] or None
                ),
                allowed_mentions=NO_MENTIONS,
                suppress_embeds=self.suppress_embeds,
            )
        except discord.HTTPException as exc:
            raise _delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"Discord could not be reached: {type(exc).__name__}", retryable=True) from exc

    async def typing(self) -> None:
        await self.channel.typing()  # type: ignore[misc] - awaiting Typing triggers it once


# Discord's error code for "Cannot send messages to this user" (DMs closed, or no server in common).
DMS_CLOSED = 50007


def _delivery_error(exc: discord.HTTPException) -> Exception:
    if exc.status == 429:
        retry_after = float(getattr(exc, "retry_after", 1.0) or 1.0)
        return RateLimited(retry_after)
    # Other 4xx answers are final: the same call would be refused again.
    permanent = 400 <= exc.status < 500
    if exc.code == DMS_CLOSED:
        return DeliveryError(
            "the user does not accept direct messages from the bot "
            f"(Discord {exc.code}: their DMs are closed, or they share no server with it)",
        )
    gone = isinstance(exc, discord.NotFound)
    reason = f"Discord refused the call: {exc.status} {exc.text[:200]}"
    return DeliveryError(reason, gone=gone, retryable=not permanent)
