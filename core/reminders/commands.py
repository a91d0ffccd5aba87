"""``/reminders``: list them (next time, recurrence, where they go), and cancel, pause or resume one."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.reminders.store import ReminderRecord, ReminderStore
from core.reminders.words import line
from core.types import PlatformIdentity

UserOf = Callable[[PlatformIdentity], Awaitable[int | None]]
USAGE = "/reminders, or /reminders cancel 3 | pause 3 | resume 3"
_ACTION = re.compile(r"^\s*(cancel|pause|resume|list)?\s*#?(\d+)?\s*$", re.IGNORECASE)
_DONE = {"cancel": "Cancelled", "pause": "Paused", "resume": "Resumed"}
_ABLE = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}


class ReminderCommands:
    """The handler of ``/reminders``; `user_of` maps the caller's account to their user (None: not admitted)."""

    def __init__(self, store: ReminderStore, *, user_of: UserOf, clock: Clock, changed: Callable[[], None]) -> None:
        self.store = store
        self.user_of = user_of
        self.clock = clock
        self.changed = changed

    async def reminders(self, request: CommandRequest) -> CommandReply:
        """List, or apply "cancel N", "pause N", "resume N"."""
        user_id = await self.user_of(request.identity)
        if user_id is None:
            return CommandReply("I don't know you yet: write to me first.", private=True)
        match = _ACTION.match(request.options.get("action", ""))
        if match is None:
            return CommandReply(f"I didn't understand that. Use {USAGE}.", private=True)
        action, number = (match.group(1) or "list").lower(), match.group(2)
        if action == "list":
            mine = await self.store.of_user(user_id)
            if not mine:
                return CommandReply("You have no reminders. Ask me in words, e.g. “remind me Friday at 10 to call "
                                    "Ana”.", private=True)  # fmt: skip
            now = self.clock()
            lines = [line(r, now) for r in mine]
            return CommandReply("Your reminders:\n" + "\n".join(lines) + f"\nChange one with {USAGE}.", private=True)
        if number is None:
            return CommandReply(f"Which one? For example /reminders {action} 3 (the numbers are in /reminders).",
                                private=True)  # fmt: skip
        operation: Callable[[int, int], Awaitable[ReminderRecord | None]] = getattr(self.store, action)
        done = await operation(user_id, int(number))
        if done is None:
            return CommandReply(
                f"You have no reminder #{number} that can be {_ABLE[action]}; see /reminders.", private=True
            )
        self.changed()
        return CommandReply(f"{_DONE[action]}: {line(done, self.clock())}", private=True)


def reminder_commands(handler: ReminderCommands) -> list[Command]:
    """The ``/reminders`` command."""
    return [
        Command(
            "reminders",
            "Your reminders: list, or cancel, pause or resume one",
            handler.reminders,
            options=(CommandOption("action", "cancel 3, pause 3 or resume 3 (empty: list them)"),),
            usage="/reminders cancel 3",
        )
    ]
