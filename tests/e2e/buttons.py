"""What a person sees of the bot's buttons in their DM, and pressing one, on Discord or Slack (through the fakes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.e2e.platform_bot import PlatformBot


@dataclass(frozen=True)
class Shown:
    """A button as shown: the message under which it is, its label, and the id the platform gives back."""

    message: str
    label: str
    action_id: str


def buttons(bot: PlatformBot, user: str) -> list[Shown]:
    """The buttons under the bot's messages in the user's DM, oldest message first."""
    if bot.discord is not None:
        channel = bot.discord.dm_channel_id(user)
        messages = bot.discord.channel_messages(channel) if channel else []
        return [
            Shown(m["id"], c.get("label", ""), c.get("custom_id", ""))
            for m in messages
            if m["author"]["id"] == bot.discord.bot_user_id
            for row in m.get("components") or []
            for c in row.get("components") or []
        ]
    assert bot.slack is not None
    return [
        Shown(m.ts, e["text"]["text"], e["action_id"])
        for m in bot.slack.channel_messages(bot.slack.dm_channel(user))
        if m.is_bot
        for block in m.blocks or []
        if block.get("type") == "actions"
        for e in block.get("elements") or []
    ]


async def press(bot: PlatformBot, user: str, label: str) -> str:
    """Press the newest button labelled `label`; returns the text of the pressed message once the press
    is answered (the message changed and its buttons are gone)."""
    shown = [b for b in buttons(bot, user) if b.label == label]
    assert shown, f"no button {label!r} in {[b.label for b in buttons(bot, user)]}"
    target = shown[-1]
    if bot.discord is not None:
        bot.discord.press_button(user, target.message, target.action_id)
    else:
        assert bot.slack is not None
        bot.slack.press_button(user, bot.slack.dm_channel(user), target.message, target.action_id)

    def answered(*_: Any) -> str | None:
        if any(b.message == target.message for b in buttons(bot, user)):
            return None
        if bot.discord is not None:
            message = bot.discord.message(target.message)
            return str(message["content"]) if message else None
        assert bot.slack is not None
        found = [m for m in bot.slack.channel_messages(bot.slack.dm_channel(user)) if m.ts == target.message]
        return found[0].text if found else None

    if bot.discord is not None:
        return await bot.discord.await_for(answered, 20)
    assert bot.slack is not None
    return await bot.slack.await_for(answered, timeout=20)


async def shows(bot: PlatformBot, user: str, fragment: str, timeout: float = 20) -> str:
    """The bot's DM text, once it shows `fragment` (an answer may end in a later message than its first
    words when the platform's edit budget is short, so the first finished message is not always all of it)."""

    def found(*_: Any) -> str | None:
        text = "\n".join(bot.texts(user))
        return text if fragment in text else None

    if bot.discord is not None:
        return await bot.discord.await_for(found, timeout)
    assert bot.slack is not None
    return await bot.slack.await_for(found, timeout=timeout)
