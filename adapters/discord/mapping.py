"""Discord objects → the core's plain types."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import discord

from core.types import Attachment, AttachmentKind, ConversationRef, PlatformIdentity

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_WORKSPACE = "dm"
# Discord user ids are global, so identities are not tied to a server.
IDENTITY_WORKSPACE = "global"
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def identity_of(user: discord.abc.User) -> PlatformIdentity:
    return PlatformIdentity(PLATFORM, IDENTITY_WORKSPACE, str(user.id), display_name=user.display_name)


def place_of(channel_id: int, guild_id: int | None) -> ConversationRef:
    """The conversation place of a DM channel or a thread."""
    return ConversationRef(PLATFORM, str(guild_id) if guild_id else DM_WORKSPACE, str(channel_id))


def strip_mention(text: str, bot_id: int) -> str:
    """The message without the mention that called the bot."""
    return re.sub(rf"<@!?{bot_id}>", "", text).strip()


@dataclass(frozen=True, slots=True)
class ReadAttachments:
    images: tuple[Attachment, ...]
    unsupported: tuple[str, ...]


async def read_attachments(message: discord.Message) -> ReadAttachments:
    """Download the images of a message; name the files the assistant cannot read yet."""
    images: list[Attachment] = []
    unsupported: list[str] = []
    for item in message.attachments:
        content_type = (item.content_type or "").split(";")[0]
        if not content_type.startswith("image/"):
            unsupported.append(item.filename)
            continue
        if item.size > MAX_IMAGE_BYTES:
            unsupported.append(f"{item.filename} (over 20 MB)")
            continue
        try:
            data = await item.read()
        except discord.HTTPException as exc:
            log.warning("could not download %s: %s", item.filename, exc)
            unsupported.append(f"{item.filename} (download failed)")
            continue
        images.append(Attachment(AttachmentKind.IMAGE, item.filename, content_type, data, url=item.url))
    return ReadAttachments(tuple(images), tuple(unsupported))


def unsupported_line(names: tuple[str, ...]) -> str:
    listed = ", ".join(names)
    return f"-# I can't read {listed} yet: only images are supported for now."
