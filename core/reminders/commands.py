"""``/reminders``: list them (next time, recurrence, where they go), and cancel, pause, resume, rename or move one.

The buttons under a reminder and under a confirmation run the same command with the
lines "done 3", "snooze 3 20m" (or 1h, morning), "reschedule 3" and "undo 3".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.reminders.actions import CHANGES, ReminderActions
from core.reminders.followups import remind_at
from core.reminders.store import FOLLOW_UPS, ReminderStore
from core.reminders.times import Schedule, TimeRefused
from core.reminders.words import confirmation, line, when
from core.types import PlatformIdentity

UserOf = Callable[[PlatformIdentity], Awaitable[int | None]]
USAGE = "/reminders, or /reminders cancel 3 | pause 3 | resume 3 | rename 3 <text> | move 3 2026-12-11T10:00"
_ACTION = re.compile(r"^\s*(cancel|pause|resume|list|done|snooze|reschedule|undo|remind|rename|move)?\s*#?(\d+)?\s*(.*?)\s*$",
                     re.IGNORECASE)  # fmt: skip
_DONE = {"cancel": "Cancelled", "pause": "Paused", "resume": "Resumed"}
_ABLE = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}


class ReminderCommands:
    """The handler of ``/reminders``; `user_of` maps the caller's account to their user (None: not admitted)."""

    def __init__(self, store: ReminderStore, *, user_of: UserOf, clock: Clock, changed: Callable[[], None]) -> None:
        self.store = store
        self.user_of = user_of
        self.clock = clock
        self.changed = changed
        self.actions = ReminderActions(store, clock=clock, changed=changed)  # the web app's reminders use it too

    async def reminders(self, request: CommandRequest) -> CommandReply:
        """List, or apply "cancel N", "pause N", "resume N"."""
        user_id = await self.user_of(request.identity)
        if user_id is None:
            return CommandReply("I don't know you yet: write to me first.", private=True)
        match = _ACTION.match(request.options.get("action", ""))
        if match is None:
            return CommandReply(f"I didn't understand that. Use {USAGE}.", private=True)
        action, number, rest = (match.group(1) or "list").lower(), match.group(2), match.group(3)
        if rest and action not in ("snooze", "remind", "rename", "move"):
            return CommandReply(f"I didn't understand that. Use {USAGE}.", private=True)
        if action == "list":
            mine = await self.actions.mine(user_id)
            if not mine:
                return CommandReply("You have no reminders. Ask me in words, e.g. “remind me Friday at 10 to call "
                                    "Ana”.", private=True)  # fmt: skip
            now = self.clock()
            lines = [line(r, now) for r in mine]
            n = mine[0].id  # the example names a reminder of the list, not a made-up #3
            change = f"Change one by its number: /reminders cancel {n}, pause {n} or resume {n}."
            return CommandReply("Your reminders:\n" + "\n".join(lines) + "\n" + change, private=True)
        if number is None:
            return CommandReply(f"Which one? For example /reminders {action} 3 (the numbers are in /reminders).",
                                private=True)  # fmt: skip
        if action in _PRESSED:
            return await _PRESSED[action](self, user_id, int(number), rest)
        change = next(c for c in CHANGES if c == action)
        done = await self.actions.change(user_id, int(number), change)
        if done is None:
            return CommandReply(
                f"You have no reminder #{number} that can be {_ABLE[action]}; see /reminders.", private=True
            )
        return CommandReply(f"{_DONE[action]}: {line(done, self.clock())}", private=True)

    async def _done(self, user_id: int, number: int, _rest: str) -> CommandReply:
        done = await self.actions.done(user_id, number)
        if done is None:
            return CommandReply(f"You have no reminder #{number}; see /reminders.", private=True)
        if done.rrule is not None and done.state == "active":
            return CommandReply(f"✅ Done. Next time: {when(done, self.clock())}.", private=True)
        return CommandReply("✅ Done.", private=True)

    async def _snooze(self, user_id: int, number: int, rest: str) -> CommandReply:
        if await self.actions.get(user_id, number) is None:
            return CommandReply(f"You have no reminder #{number}; see /reminders.", private=True)
        try:
            made = await self.actions.snooze(user_id, number, rest)
        except TimeRefused as exc:
            return CommandReply(f"I couldn't snooze it: {exc}", private=True)
        if made is None:
            return CommandReply(f"Reminder #{number} cannot be snoozed any more.", private=True)
        return CommandReply(f"💤 Snoozed to {when(made, self.clock())}.", private=True)

    async def _reschedule(self, user_id: int, number: int, _rest: str) -> CommandReply:
        current = await self.store.get(number, user_id=user_id)
        if current is None:
            return CommandReply(f"You have no reminder #{number}; see /reminders.", private=True)
        return CommandReply(f"When should “{current.text}” come instead? Tell me, e.g. “move it to Friday at 9”.",
                            private=True)  # fmt: skip

    async def _rename(self, user_id: int, number: int, rest: str) -> CommandReply:
        return await self._edit(user_id, number, text=rest)

    async def _move(self, user_id: int, number: int, rest: str) -> CommandReply:
        return await self._edit(user_id, number, at=rest)

    async def _edit(self, user_id: int, number: int, *, text: str = "", at: str = "") -> CommandReply:
        if not (text or at):
            return CommandReply(f"Give the new text or time, e.g. /reminders rename {number} call Ana, or "
                                f"/reminders move {number} 2026-12-11T10:00.", private=True)  # fmt: skip
        try:
            made = await self.actions.edit(user_id, number, text=text, at=at)
        except TimeRefused as exc:
            return CommandReply(f"I couldn't change it: {exc}", private=True)
        if made is None:
            return CommandReply(f"You have no open reminder #{number}; see /reminders.", private=True)
        return CommandReply(f"⏰ Changed: {confirmation(made, self.clock())}", private=True)

    async def _undo(self, user_id: int, number: int, _rest: str) -> CommandReply:
        cancelled = await self.actions.change(user_id, number, "cancel")
        if cancelled is None:
            return CommandReply(f"Reminder #{number} is no longer open; nothing to undo.", private=True)
        return CommandReply(f"↩️ Undone: {confirmation(cancelled, self.clock())} is cancelled.", private=True)

    async def _remind(self, user_id: int, number: int, rest: str) -> CommandReply:
        """ "Remind me" on an open item of a morning offer: a reminder for it this afternoon."""
        offer = await self.store.get(number, user_id=user_id)
        items = offer.items or [] if offer is not None and offer.kind == FOLLOW_UPS else []
        if offer is None or not rest.isdigit() or int(rest) >= len(items):
            return CommandReply("I can't find that open item any more; ask me in words instead.", private=True)
        now = self.clock()
        try:
            made = await self.store.create(
                user_id=user_id, text=items[int(rest)], schedule=Schedule(remind_at(now, offer.zone), offer.zone),
                platform=offer.platform,
            )  # fmt: skip
        except TimeRefused as exc:
            return CommandReply(f"I couldn't set it: {exc}", private=True)
        self.changed()
        return CommandReply(f"⏰ {confirmation(made, now)} (#{made.id})", private=True)


_PRESSED: dict[str, Callable[[ReminderCommands, int, int, str], Awaitable[CommandReply]]] = {
    "done": ReminderCommands._done,
    "snooze": ReminderCommands._snooze,
    "reschedule": ReminderCommands._reschedule,
    "undo": ReminderCommands._undo,
    "remind": ReminderCommands._remind,
    "rename": ReminderCommands._rename,
    "move": ReminderCommands._move,
}


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
