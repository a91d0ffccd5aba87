"""Delivering a held occurrence: the text (with a late note), fallback to other platforms, and the outcome.

A passing failure (the platform is away, 5xx, rate limits past retries) gives the
occurrence back to be tried again after the lease, at most :data:`MAX_ATTEMPTS`
times. A permanent refusal where the reminder was asked (a closed Discord DM, a
Slack account that cannot be written to) is told to the person on another platform
with the reminder itself, and the reminder is marked undeliverable: it is never
retried forever.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from core.clock import Clock
from core.messenger import DeliveryError
from core.reminders.buttons import reminder_buttons
from core.reminders.occurrences import (
    FAILED,
    MAX_ATTEMPTS,
    SENDING,
    UNDELIVERABLE,
    LeaseLost,
    Occurrence,
    OccurrenceRepository,
)
from core.reminders.speak import Speaker
from core.reminders.store import DONE
from core.reminders.store import UNDELIVERABLE as STOPPED
from core.reminders.times import to_local, wall

log = logging.getLogger(__name__)

# Sent this long after its time, a reminder says it is late and why.
LATE_AFTER = timedelta(minutes=2)


def reminder_text(held: Occurrence, now: datetime) -> str:
    """ "⏰ Reminder: call Ana", with "(late: I was offline at 09:00)" when it comes late."""
    text = f"⏰ Reminder: {held.reminder.text}"
    if now - held.scheduled_at > LATE_AFTER:
        due = wall(held.local_time)
        today = to_local(now, held.reminder.zone).date()
        when = due.strftime("%H:%M") if due.date() == today else f"{due.strftime('%A %d %B')} {due.strftime('%H:%M')}"
        text += f"\n(late: I was offline at {when}"
        if held.missed:
            text += f"; it was due {held.missed + 1} times meanwhile, this one message stands for all of them"
        text += ")"
    return text


class ReminderDelivery:
    """Sends held occurrences through :class:`Speaker` and records what happened."""

    def __init__(self, occurrences: OccurrenceRepository, speaker: Speaker, *, clock: Clock) -> None:
        self.occurrences = occurrences
        self.speaker = speaker
        self.clock = clock

    async def deliver(self, held: Occurrence) -> str:
        """Send `held`; returns its new state (delivered, claimed again later, failed, undeliverable)."""
        reminder = held.reminder
        base = reminder_text(held, self.clock())
        if held.account is not None:
            accounts = [held.account]  # a send began there: a retry must look where it may have landed
        else:
            accounts = await self.speaker.accounts(reminder.user_id, prefer_platform=reminder.platform)
        if not accounts:
            return await self._passing(held, f"user {reminder.user_id} has no account on a connected platform")
        refused: DeliveryError | None = None
        for account in accounts:
            text = base
            if refused is not None:
                text += (
                    f"\n(I could not reach you on {reminder.platform}: {refused.reason}. "
                    "I stopped this reminder; set it again if you want it to go on.)"
                )
            try:
                # Only a send begun before (by a process that died or stopped) may have reached the
                # platform: then its post is looked for first; a first send is just sent.
                earlier = held.started_at if held.state == SENDING and held.account == account else None
                held = await self.occurrences.begin_send(held, account, self.clock())
                spoken = await self.speaker.send(
                    reminder.user_id, account, held.idempotency_key, text, earlier_try=earlier,
                    buttons=reminder_buttons(reminder.id),
                )  # fmt: skip
            except LeaseLost:
                log.warning("reminder occurrence %s: lease lost, another process delivers it", held.id)
                return "lost"
            except DeliveryError as exc:
                if exc.retryable:
                    return await self._passing(held, exc.reason)
                log.warning("reminder %s refused on %s for good: %s", reminder.id, account.platform, exc.reason)
                refused = refused or exc
                continue
            state = STOPPED if refused is not None and reminder.rrule is not None else None
            if refused is not None and reminder.rrule is None:
                state = DONE
            await self.occurrences.delivered(
                held, conversation_id=spoken.conversation_id, text=text,
                message_ids=spoken.delivery.message_ids, now=self.clock(), reminder_state=state,
            )  # fmt: skip
            log.info("reminder %s delivered on %s", reminder.id, account.platform)
            return "delivered"
        assert refused is not None
        log.warning("reminder %s is undeliverable: %s", reminder.id, refused.reason)
        await self.occurrences.give_up(held, UNDELIVERABLE, refused.reason, self.clock(), reminder_state=STOPPED)
        return UNDELIVERABLE

    async def _passing(self, held: Occurrence, reason: str) -> str:
        if held.attempts >= MAX_ATTEMPTS:
            log.warning("reminder occurrence %s failed %s times, giving up: %s", held.id, held.attempts, reason)
            state = STOPPED if held.reminder.rrule is None else None
            await self.occurrences.give_up(held, FAILED, reason, self.clock(), reminder_state=state)
            return FAILED
        log.info("reminder occurrence %s not delivered yet (%s); tried again later", held.id, reason)
        await self.occurrences.release(held, reason, self.clock())
        return "later"
