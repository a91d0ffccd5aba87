"""Delivering a held occurrence: the text (with a late note), fallback to other platforms, and the outcome.

The message itself goes through `core.speak` (idempotent posting, the fallback to
the person's other platforms, the copy in the conversation's history). A passing
failure (the platform is away, 5xx, rate limits past retries) gives the occurrence
back to be tried again after the lease, at most :data:`MAX_ATTEMPTS` times. A
permanent refusal where the reminder was asked (a closed Discord DM, a Slack account
that cannot be written to) is told to the person on another platform with the
reminder itself, and the reminder is stopped; refused everywhere, it is marked
undeliverable: it is never retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from core.clock import Clock
from core.db.claims import LeaseLost
from core.messenger import DeliveryError
from core.reminders.anchors import CANCELLED as EVENT_CANCELLED
from core.reminders.anchors import MOVED, CalendarAnchors
from core.reminders.buttons import reminder_buttons
from core.reminders.followups import offer_buttons
from core.reminders.occurrences import CLAIMED, FAILED, MAX_ATTEMPTS, UNDELIVERABLE, Occurrence, OccurrenceRepository
from core.reminders.store import CANCELLED, DONE, FOLLOW_UPS
from core.reminders.store import UNDELIVERABLE as STOPPED
from core.reminders.times import to_local, wall
from core.speak import Refusal, Speak, Unreachable
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

# Sent this long after its time, a reminder says it is late and why.
LATE_AFTER = timedelta(minutes=2)


def reminder_text(held: Occurrence, now: datetime, *, up_since: datetime | None = None) -> str:
    """ "⏰ Reminder: call Ana", with a note when it comes late: "(late: I was offline at 09:00)" when it fell
    due before this process started (``up_since``), else "(late: this was due at 09:00)" (a platform that was
    down, a meeting that moved back to a time already past): the note never blames what did not happen."""
    text = f"⏰ Reminder: {held.reminder.text}"
    if now - held.scheduled_at > LATE_AFTER:
        due = wall(held.local_time)
        today = to_local(now, held.reminder.zone).date()
        when = due.strftime("%H:%M") if due.date() == today else f"{due.strftime('%A %d %B')} {due.strftime('%H:%M')}"
        offline = up_since is None or held.scheduled_at < up_since
        text += f"\n(late: I was offline at {when}" if offline else f"\n(late: this was due at {when}"
        if held.missed:
            text += f"; it was due {held.missed + 1} times meanwhile, this one message stands for all of them"
        text += ")"
    return text


class ReminderDelivery:
    """Sends held occurrences through `speak` and records what happened."""

    def __init__(
        self, occurrences: OccurrenceRepository, speak: Speak, *, clock: Clock, anchors: CalendarAnchors | None = None
    ) -> None:
        """`anchors` looks up a calendar-anchored reminder's event once more before it is sent. A reminder due
        before now (this process's start) is late because the assistant was offline; one due later, for
        another reason."""
        self.occurrences = occurrences
        self.speak = speak
        self.clock = clock
        self.anchors = anchors
        self.up_since = clock()
        self._accounts: dict[tuple[int, str], asyncio.Future[list[PlatformIdentity]]] = {}

    def new_pass(self) -> None:
        """Forget the accounts looked up so far: until the next call, the reminders of one person share one
        look-up (an account linked or unlinked meanwhile counts from the next pass)."""
        self._accounts = {}

    def _accounts_of(self, user_id: int, platform: str) -> asyncio.Future[list[PlatformIdentity]]:
        key = (user_id, platform)
        looked_up = self._accounts.get(key)
        if looked_up is None:
            looked_up = asyncio.ensure_future(self.speak.accounts(user_id, prefer_platform=platform))
            self._accounts[key] = looked_up
            # A failed look-up (the database away a moment) is not kept: the next reminder asks again.
            looked_up.add_done_callback(lambda done: self._forget_failed(key, done))
        return looked_up

    def _forget_failed(self, key: tuple[int, str], done: asyncio.Future[list[PlatformIdentity]]) -> None:
        if (done.cancelled() or done.exception() is not None) and self._accounts.get(key) is done:
            del self._accounts[key]

    async def deliver(self, held: Occurrence) -> str:
        """Send `held`; returns its new state (delivered, claimed again later, failed, undeliverable)."""
        reminder = held.reminder
        if reminder.calendar is not None and self.anchors is not None:
            verdict = await self.anchors.verdict(reminder, held.scheduled_at)
            if verdict.action == MOVED and verdict.local is not None:
                await self.anchors.move(reminder, verdict)  # claimed again at the new time
                await self.occurrences.give_up(held, MOVED, "its event moved", self.clock(), reminder_state=None)
                return MOVED
            if verdict.action == EVENT_CANCELLED:
                await self.occurrences.give_up(held, CANCELLED, "its event was cancelled", self.clock(),
                                               reminder_state=CANCELLED)  # fmt: skip
                return CANCELLED
        current = held

        async def before_send(account: PlatformIdentity) -> None:
            nonlocal current  # renews the lease: only its holder may start a send
            current = await self.occurrences.begin_send(current, account, self.clock())

        def stopped_note(refused: tuple[Refusal, ...]) -> str:
            return (
                f"\n(I could not reach you on {reminder.platform}: {refused[0].reason}. "
                "I stopped this reminder; set it again if you want it to go on.)"
            )

        if reminder.kind == FOLLOW_UPS:  # the morning offer of yesterday's open items
            text, buttons = reminder.text, offer_buttons(reminder)
        else:
            text, buttons = reminder_text(held, self.clock(), up_since=self.up_since), reminder_buttons(reminder.id)
        # Claimed just now and never begun: its key (made by the claim) has no spoken record to look up.
        fresh = held.attempts == 1 and held.state == CLAIMED and held.started_at is None
        try:
            spoken = await self.speak(
                reminder.user_id, key=held.idempotency_key, text=text, prefer_platform=reminder.platform,
                before_send=before_send, note=stopped_note, buttons=buttons, fresh=fresh,
                accounts=list(await asyncio.shield(self._accounts_of(reminder.user_id, reminder.platform))),
            )  # fmt: skip
        except LeaseLost:
            log.warning("reminder occurrence %s: lease lost, another process delivers it", held.id)
            return "lost"
        except Unreachable as exc:
            reason = exc.refused[0].reason if exc.refused else exc.reason
            log.warning("reminder %s is undeliverable: %s", reminder.id, reason)
            await self.occurrences.give_up(current, UNDELIVERABLE, reason, self.clock(), reminder_state=STOPPED)
            return UNDELIVERABLE
        except DeliveryError as exc:
            return await self._passing(current, exc.reason)
        state = None
        if spoken.refused:
            state = STOPPED if reminder.rrule is not None else DONE
        await self.occurrences.delivered(
            current, message_ids=spoken.delivery.message_ids, now=self.clock(), reminder_state=state
        )
        log.info("reminder %s delivered on %s", reminder.id, spoken.delivery.platform)
        if reminder.calendar is not None and self.anchors is not None:
            await self.anchors.sent(reminder, held.scheduled_at)  # "each meeting": on to the next one
        return "delivered"

    async def _passing(self, held: Occurrence, reason: str) -> str:
        if held.attempts >= MAX_ATTEMPTS:
            log.warning("reminder occurrence %s failed %s times, giving up: %s", held.id, held.attempts, reason)
            state = STOPPED if held.reminder.rrule is None else None
            await self.occurrences.give_up(held, FAILED, reason, self.clock(), reminder_state=state)
            return FAILED
        log.info("reminder occurrence %s not delivered yet (%s); tried again later", held.id, reason)
        await self.occurrences.release(held, reason, self.clock())
        return "later"
