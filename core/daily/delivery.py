"""Posting a day's parts (its text, its PDF file) exactly once, recorded per part in ``daily_deliveries``.

Before a part is sent, its record is written (``sending``) with an idempotency key
made once, in the same transaction that renews the day's lease, so only the
holder of the day may start a send. After the platform accepted it, the record
is confirmed (``sent``). A later try, in this process or another after a crash
or a stop, skips the parts confirmed, and for a part left ``sending`` lets the
platform's messenger look for what that try posted (by its key) before it
sends only what is missing. The account a day goes to is chosen once, with its
first record: a retry must look where the earlier try posted.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.clock import Clock
from core.daily.claim import DailyLogRecord, LeaseLost
from core.db.database import Database
from core.db.models_daily import DailyDelivery, DailyLog
from core.messenger import DeliveryError, Outbox
from core.outbound import OutboundPart, PartMessenger
from core.types import OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)

SENDING = "sending"
SENT = "sent"
_TABLE = DailyDelivery.__table__
_LOGS = DailyLog.__table__


@dataclass(frozen=True)
class DeliveryRecord:
    """A snapshot of one ``daily_deliveries`` row."""

    id: int
    part: str
    idempotency_key: str
    platform: str
    workspace: str
    account: str
    state: str
    started_at: datetime

    @property
    def sent(self) -> bool:
        return self.state == SENT

    @property
    def identity(self) -> PlatformIdentity:
        """The account this part goes (went) to."""
        return PlatformIdentity(self.platform, self.workspace, self.account)


def _record(row: object) -> DeliveryRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    return DeliveryRecord(**{name: mapping[name] for name in DeliveryRecord.__dataclass_fields__})


class DeliveryRepository:
    """The delivery records of daily logs."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    async def of(self, log_id: int) -> dict[str, DeliveryRecord]:
        """The records of one day, by part."""
        async with self._db.session() as session:
            rows = (await session.execute(select(*_TABLE.c).where(_TABLE.c.daily_log_id == log_id))).all()
        return {row.part: _record(row) for row in rows}

    async def begin(
        self, held: DailyLogRecord, part: str, account: PlatformIdentity, now: datetime
    ) -> tuple[DeliveryRecord, bool]:
        """The record of `part` (made now, ``sending``, when there is none), and whether it is new.

        Renews the day's lease in the same transaction: raises :class:`LeaseLost` and
        writes nothing when `held` is no longer this worker's (a successor took it over).
        On PostgreSQL the renewal locks the day's row, so a take-over waits for this
        transaction and then finds the lease fresh.
        """
        renew = (
            update(_LOGS)
            .where(_LOGS.c.id == held.id, _LOGS.c.attempts == held.attempts, _LOGS.c.claimed_at.is_not(None))
            .values(claimed_at=now, updated_at=now)
        )
        values = {"daily_log_id": held.id, "user_id": held.user_id, "part": part,
                  "idempotency_key": secrets.token_hex(16), "platform": account.platform,
                  "workspace": account.workspace, "account": account.user_id, "state": SENDING,
                  "message_ids": [], "started_at": now}  # fmt: skip
        insert = (
            self._insert(_TABLE)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["daily_log_id", "part"])
            .returning(*_TABLE.c)
        )
        async with self._db.session() as session, session.begin():
            if (await session.execute(renew)).rowcount != 1:
                raise LeaseLost(held.id)
            made = (await session.execute(insert)).first()
            if made is not None:
                return _record(made), True
            row = (
                await session.execute(
                    select(*_TABLE.c).where(_TABLE.c.daily_log_id == held.id, _TABLE.c.part == part)
                )
            ).one()
        return _record(row), False

    async def confirm(self, delivery_id: int, message_ids: Sequence[str], now: datetime) -> None:
        """The platform accepted the part: record it ``sent`` with its platform message ids."""
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == delivery_id)
            .values(state=SENT, message_ids=list(message_ids), sent_at=now)
        )
        async with self._db.session() as session, session.begin():
            await session.execute(statement)

    async def forget_unsent(self, log_id: int) -> None:
        """Drop the day's records when none was sent, so it may go to another account."""
        async with self._db.session() as session, session.begin():
            if (
                await session.execute(
                    select(_TABLE.c.id).where(_TABLE.c.daily_log_id == log_id, _TABLE.c.state == SENT).limit(1)
                )
            ).first() is None:
                await session.execute(delete(_TABLE).where(_TABLE.c.daily_log_id == log_id))


Content = str | OutgoingFile


class DayPoster:
    """Posts the parts of a held day, each exactly once, to one account of the person."""

    def __init__(self, deliveries: DeliveryRepository, outbox: Outbox, clock: Clock) -> None:
        self.deliveries = deliveries
        self.outbox = outbox
        self.clock = clock

    async def post(
        self, held: DailyLogRecord, parts: Sequence[tuple[str, Content]], *, prefer_platform: str | None
    ) -> None:
        """Send each of `parts` (name, text or file), in order, that is not recorded as sent.

        Raises :class:`DeliveryError` when a part could not be posted (what was posted stays
        recorded) and :class:`LeaseLost` when the day is no longer this worker's.
        """
        records = await self.deliveries.of(held.id)
        chosen = next(iter(records.values()), None)
        if chosen is not None:
            accounts = [chosen.identity]
        else:
            accounts = await self.outbox.accounts_for(held.user_id, prefer_platform=prefer_platform)
            if not accounts:
                raise DeliveryError(f"user {held.user_id} has no account on a connected platform", retryable=True)
        last_error: DeliveryError | None = None
        for account in accounts:
            try:
                await self._post_to(account, held, parts, records)
                return
            except DeliveryError as exc:
                last_error = exc
                log.warning("daily post of user %s on %s failed: %s", held.user_id, account.platform, exc.reason)
                if chosen is not None or exc.retryable:
                    raise
                if any(r.sent for r in (await self.deliveries.of(held.id)).values()):
                    raise
                # Refused for good before anything arrived (DMs closed): the next account may take it.
                await self.deliveries.forget_unsent(held.id)
                records = {}
        assert last_error is not None
        raise last_error

    async def _post_to(
        self,
        account: PlatformIdentity,
        held: DailyLogRecord,
        parts: Sequence[tuple[str, Content]],
        records: dict[str, DeliveryRecord],
    ) -> None:
        messenger = self.outbox.messenger(account.platform)
        if messenger is None:
            raise DeliveryError(f"{account.platform} is not connected right now", retryable=True)
        if not isinstance(messenger, PartMessenger):
            raise DeliveryError(f"{account.platform} cannot post a part exactly once")
        for name, content in parts:
            known = records.get(name)
            if known is not None and known.sent:
                continue
            record, new = await self.deliveries.begin(held, name, account, self.clock())
            if record.sent:
                continue
            part = (
                OutboundPart(record.idempotency_key, text=content)
                if isinstance(content, str)
                else OutboundPart(record.idempotency_key, file=content)
            )
            if not new:
                log.info("daily post of user %s: part %s may have been posted before; checking", held.user_id, name)
            delivery = await messenger.send_part(account, part, earlier_try=None if new else record.started_at)
            await self.deliveries.confirm(record.id, delivery.message_ids, self.clock())
