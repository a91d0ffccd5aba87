"""Follow-ups: the open items of a day's summary, offered the next morning with a one-tap "remind me".

When the daily log of a day is posted, its summary's **Open items** (or **To do**)
bullets become one row of ``reminders`` of kind ``follow_ups``, due at 09:00 the next
morning in the person's zone and made once per (person, day) by its ``source_key``.
It then goes out like any reminder (claimed once, late after downtime, through
`speak`), as "Open from Monday 7 December:" and the items, with one "Remind me"
button per item; a press runs ``/reminders remind <offer> <item>``, which sets an
ordinary reminder for that item this afternoon.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite

from core.buttons import Button
from core.clock import Clock
from core.db.database import Database
from core.export.layout import long_date
from core.reminders.buttons import COMMAND, MORNING
from core.reminders.store import _TABLE, ACTIVE, FOLLOW_UPS, ReminderRecord
from core.reminders.times import to_local, to_utc, wall_text

log = logging.getLogger(__name__)

MAX_ITEMS = 5
MAX_ITEM_CHARS = 200
LABEL_CHARS = 60  # of the item in its button's label (Slack shows at most 75 characters)
# "Remind me" on an item sets its reminder at this wall time today, or in an hour when that is past.
AFTERNOON = time(14, 0)
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(open items|to do|to-do|todo)\s*:?\s*(?:\*\*|__)?\s*:?\s*$", re.I
)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+(.*\S)\s*$")


def open_items(summary: str) -> list[str]:
    """The bullets of the summary's "Open items" (or "To do") section, cleaned, at most :data:`MAX_ITEMS`."""
    items: list[str] = []
    collecting = False
    for line in summary.splitlines():
        if _HEADING.match(line):
            collecting = True
            continue
        if not collecting:
            continue
        bullet = _BULLET.match(line)
        if bullet:
            item = re.sub(r"\*\*|__|`", "", bullet.group(1)).strip()[:MAX_ITEM_CHARS]  # the words, not the markup
            if item and item.lower() not in (i.lower() for i in items):
                items.append(item)
        elif line.strip():
            collecting = False  # the next section
    return items[:MAX_ITEMS]


def offer_text(day: date, items: list[str]) -> str:
    """ "Open from Monday 7 December:" and the items as bullets, with how to get a reminder."""
    bullets = "\n".join(f"• {item}" for item in items)
    return f"☀️ Open from {long_date(day)}:\n{bullets}\nTap “Remind me” on one and I'll remind you this afternoon."


def offer_buttons(offer: ReminderRecord) -> tuple[Button, ...]:
    """One "Remind me" button per open item of the offer."""
    buttons = []
    for index, item in enumerate(offer.items or []):
        short = item if len(item) <= LABEL_CHARS else item[: LABEL_CHARS - 1] + "…"
        buttons.append(Button(f"Remind me: {short}", COMMAND, f"remind {offer.id} {index}"))
    return tuple(buttons)


def remind_at(now: datetime, zone: ZoneInfo) -> datetime:
    """When a "Remind me" pressed at `now` reminds (naive wall time in `zone`): 14:00 today, or in an hour."""
    local = to_local(now, zone).replace(second=0, microsecond=0)
    afternoon = datetime.combine(local.date(), AFTERNOON)
    return afternoon if afternoon - local >= timedelta(hours=1) else local + timedelta(hours=1)


class FollowUps:
    """Makes the morning offer of a day's open items (once per person and day)."""

    def __init__(self, database: Database, *, clock: Clock, changed: Callable[[], None]) -> None:
        self._db = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        self.clock = clock
        self.changed = changed

    async def offer(self, user_id: int, day: date, zone: ZoneInfo, summary: str, platform: str) -> int:
        """Offer the summary's open items at 09:00 after `day` (at once when that passed); returns how many.

        Safe to call again for the same day (a retried daily log): the offer is made once."""
        items = open_items(summary)
        if not items:
            return 0
        now = self.clock()
        local = datetime.combine(day + timedelta(days=1), MORNING)
        if to_utc(local, zone) <= now:
            local = to_local(now, zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        values = {"user_id": user_id, "conversation_id": None, "platform": platform, "kind": FOLLOW_UPS,
                  "text": offer_text(day, items), "items": items, "source_key": f"follow_ups:{user_id}:{day}",
                  "local_start": wall_text(local), "timezone": zone.key, "zone_fixed": False, "rrule": None,
                  "state": ACTIVE, "next_due": to_utc(local, zone), "next_local": wall_text(local),
                  "created_at": now, "updated_at": now}  # fmt: skip
        statement = self._insert(_TABLE).values(**values).on_conflict_do_nothing(index_elements=["source_key"])
        async with self._db.session() as session, session.begin():
            made = (await session.execute(statement.returning(_TABLE.c.id))).first()
        if made is not None:
            log.info("follow-ups of user %s for %s offered at %s %s", user_id, day, values["next_local"], zone.key)
            self.changed()
        return len(items)
