"""Discord objects → the core's plain types."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import aiohttp
import discord

from core.attachments import AttachmentPolicy, OfferedFile, SkipReason
from core.types import Attachment, ConversationRef, PlatformIdentity

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_WORKSPACE = "dm"
# The workspace of an account met outside any server (DMs).  It was the workspace of
# every Discord identity before servers had their own, so accounts stored then keep
# working in DMs.
IDENTITY_WORKSPACE = "global"
DOWNLOAD_TIMEOUT = 30.0


def identity_of(user: discord.abc.User, guild_id: int | None = None) -> PlatformIdentity:
    """The account as the allowlist sees it: ``discord:<guild id>:<user id>`` in a server, ``discord:global:<user id>``
    in DMs, so an entry can name one server (``discord:123:*``) while ``discord:*:<user id>`` still means one
    person everywhere."""
    workspace = str(guild_id) if guild_id else IDENTITY_WORKSPACE
    return PlatformIdentity(PLATFORM, workspace, str(user.id), display_name=user.display_name)


def place_of(channel_id: int, guild_id: int | None) -> ConversationRef:
    """The conversation place of a DM channel or a thread."""
    return ConversationRef(PLATFORM, str(guild_id) if guild_id else DM_WORKSPACE, str(channel_id))


def places_of_message(channel_id: int, guild_id: int | None, message_id: int) -> list[ConversationRef]:
    """Where a stored message may live: its channel, or (in a server) the thread opened on it."""
    # A mention in a channel starts a thread whose id is the message's id,
    # and that first message lives in the thread's conversation.
    places = [place_of(channel_id, guild_id)]
    if guild_id:
        places.append(place_of(message_id, guild_id))
    return places


@dataclass(frozen=True, slots=True)
class Addressed:
    """A Discord message for the assistant: where it is claimed and answered."""

    place: ConversationRef  # a mention's: the thread it will open, whose id is the message's
    opens_thread: bool = False  # a mention in a server channel: the answer goes in a new thread
    if_ours: bool = False  # a thread message without a mention: for us only if the thread is a conversation of ours


def addressed(message: discord.Message, me: discord.abc.User) -> Addressed | None:
    """Whether a message is for the assistant (a DM, a mention, or a message in a thread), from the payload alone."""
    if message.author.bot or message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return None
    guild_id = message.guild.id if message.guild else None
    mentioned = me in message.mentions
    if isinstance(message.channel, discord.DMChannel):
        return Addressed(place_of(message.channel.id, None))
    if isinstance(message.channel, discord.Thread):
        return Addressed(place_of(message.channel.id, guild_id), if_ours=not mentioned)
    if not mentioned:
        return None
    return Addressed(place_of(message.id, guild_id), opens_thread=True)


def strip_mention(text: str, bot_id: int) -> str:
    """The message without the mention that called the bot."""
    return re.sub(rf"<@!?{bot_id}>", "", text).strip()


@dataclass(frozen=True, slots=True)
class ReadAttachments:
    """The files given to the core, and the line telling the user about the others (may be empty)."""

    attachments: tuple[Attachment, ...]
    note: str


def offered_files(message: discord.Message) -> list[OfferedFile]:
    """The message's files as the attachment policy sees them (from Discord's metadata, nothing downloaded)."""
    return [OfferedFile(item.filename, item.content_type or "", item.size, ref=item) for item in message.attachments]


async def read_attachments(
    message: discord.Message, policy: AttachmentPolicy, *, timeout: float = DOWNLOAD_TIMEOUT
) -> ReadAttachments:
    """Download the files of a message that the core reads, within its limits (sizes checked before)."""
    plan = policy.plan(offered_files(message))
    attachments: list[Attachment] = []
    for accepted in plan.accepted:
        item: discord.Attachment = accepted.file.ref  # type: ignore[assignment]
        try:
            data = await asyncio.wait_for(item.read(), timeout)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not download %s: %s", item.filename, type(exc).__name__)
            plan.skip(accepted)
            continue
        if len(data) > accepted.max_bytes:  # the metadata understated the size
            log.warning("%s is larger than announced; not given to the model", item.filename)
            plan.skip(accepted, SkipReason.TOO_LARGE)
            continue
        attachments.append(Attachment(accepted.kind, item.filename, accepted.content_type, data, url=item.url))
    return ReadAttachments(tuple(attachments), policy.skipped_note(plan.skipped))


def small_print(note: str) -> str:
    """A note in Discord's small grey text, line by line."""
    return "\n".join(f"-# {line}" for line in note.splitlines() if line.strip())
