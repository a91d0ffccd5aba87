"""/memory and /forget-me as commands of the shared command set (Discord, Slack, terminal).

``/memory`` lists, ``/memory <words>`` searches, ``/memory forget <n>`` deletes
one memory.  ``/forget-me`` first explains what it deletes; only
``/forget-me confirm:DELETE`` deletes, then drops what this process still
caches about the user (access decision, open conversations, context windows).
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from core.chat import ChatService
from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.db.repositories import UserRecord
from core.events import EventBus, PersonForgotten
from core.memory.commands import Forgotten, MemoryCommands, MemoryLine, MemoryListing, MemoryMatches
from core.timefmt import zone

CONFIRM_WORD = "DELETE"
FORGET_ME_WARNING = (
    "This deletes everything stored about you: every message of every conversation, summaries, memories, "
    "search indexes, saved images and speech, cached day PDFs, on every platform, and revokes my access to your "
    "Google account. It cannot be undone. What stays: the messages the platforms themselves show (delete them "
    "there), my answers in threads other people started, which stay in their conversation and may repeat "
    "your words, and backups the bot's owner made before now, which keep a copy until the owner deletes them."
)
FORGOTTEN = (
    "Done: everything I stored about you is deleted. If you write again, I start from nothing. "
    "What stays: the messages Discord or Slack still show (delete them there), my answers in threads "
    "other people started, which stay in their conversation and may repeat your words, and backups the bot's "
    "owner made before now, which keep a copy until the owner deletes them."
)


class MemorySlashCommands:
    """Handlers of /memory and /forget-me for the person who runs them."""

    def __init__(
        self,
        chat: ChatService,
        memory: MemoryCommands,
        *,
        default_timezone: str = "UTC",
        events: EventBus | None = None,
    ) -> None:
        """``events`` hears of each /forget-me (:class:`PersonForgotten`)."""
        self.chat = chat
        self.memory = memory
        self.default_timezone = default_timezone
        self.events = events

    async def memory_command(self, request: CommandRequest) -> CommandReply:
        user = await self._user(request)
        tz = zone(user.timezone, self.default_timezone)
        words = request.options.get("words", "").strip()
        if not words:
            return CommandReply(listing_text(await self.memory.listing(user.id), tz), private=True)
        first, _, rest = words.partition(" ")
        if first.lower() == "forget":
            try:
                position = int(rest.strip().lstrip("#"))
            except ValueError:
                return CommandReply(FORGET_HOW, private=True)
            return CommandReply(forgotten_text(await self.memory.forget_number(user.id, position)), private=True)
        return CommandReply(matches_text(await self.memory.matching(user.id, words), tz), private=True)

    async def forget_me_command(self, request: CommandRequest) -> CommandReply:
        if request.options.get("confirm", "").strip() != CONFIRM_WORD:
            return CommandReply(
                f"{FORGET_ME_WARNING}\nTo go ahead, run /forget-me confirm:{CONFIRM_WORD}", private=True
            )
        user = await self._user(request)
        # Shielded: stopping the command (Ctrl-C in the terminal) after the deletion must not leave
        # this process's caches pointing at rows that are gone.
        await asyncio.shield(self.chat.forget_person(user.id, self.memory.forget_me))
        if self.events is not None:
            await self.events.publish(PersonForgotten(user.id))
        return CommandReply(FORGOTTEN, private=True)

    async def _user(self, request: CommandRequest) -> UserRecord:
        admission = await self.chat.admit(request.identity)
        assert admission.user is not None  # CommandSet.run admitted the caller
        return admission.user


FORGET_HOW = "Tell me which memory to forget by its number in /memory, for example: /memory forget 2."


def _line(line: MemoryLine, tz: ZoneInfo) -> str:
    return f"{line.number or '?'}. {line.text} ({line.noted_at.astimezone(tz):%Y-%m-%d})"


def listing_text(listing: MemoryListing, tz: ZoneInfo) -> str:
    """``/memory``: numbered memories, newest first, with the date each was noted."""
    if not listing.lines:
        return "I don't remember anything about you yet."
    tail = [f"…and {listing.older} older ones."] if listing.older > 0 else []
    lines = [_line(line, tz) for line in listing.lines]
    return "\n".join(
        ["What I remember about you (newest first):", *lines, *tail, "Delete one with /memory forget <n>."]
    )


def matches_text(matches: MemoryMatches, tz: ZoneInfo) -> str:
    """``/memory <words>``: the matches, numbered as in the full list."""
    if matches.unavailable:
        return f"I can't search my memory right now: {matches.unavailable}"
    if not matches.lines:
        return f"I don't remember anything about “{matches.words}”."
    return "\n".join(["Memories matching “" + matches.words + "”:", *(_line(line, tz) for line in matches.lines)])


def forgotten_text(result: Forgotten) -> str:
    """``/memory forget <n>``: what was deleted, or why nothing was."""
    if result.text is None:
        return f"There is no memory number {result.position}; /memory shows {result.remaining}."
    return f"Forgotten: {result.text}"


def memory_commands(handlers: MemorySlashCommands) -> list[Command]:
    """The commands to add to the command set."""
    return [
        Command(
            "memory",
            "What I remember about you: list, search, or forget one",
            handlers.memory_command,
            options=(CommandOption("words", "Words to search for, or 'forget <n>' to delete memory n"),),
            usage="/memory, /memory sister, /memory forget 2",
        ),
        Command(
            "forget-me",
            "Delete everything I store about you (asks for confirmation)",
            handlers.forget_me_command,
            options=(CommandOption("confirm", f"Type {CONFIRM_WORD} to confirm"),),
            slow=True,
            usage=f"/forget-me confirm:{CONFIRM_WORD}",
        ),
    ]
