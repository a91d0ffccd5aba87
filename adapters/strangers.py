"""Access first: whether a message is answered, and strangers refused once per window, then ignored.

Every platform asks :meth:`StrangerGate.check` before any work on a message
(opening a thread, downloading files, noting it as seen).  A stranger (an
account the one access decision, ``People.admit``, refuses) gets the refusal
once per window (10 minutes by default, per account, in memory); their
further messages in that window are dropped with a debug line, so a stranger
writing fast costs neither the bot's shared rate budget nor sign-in links.
When anything about people changes (a sign-in completes, an account is
linked), the shared ``people`` revision moves and the next message is decided
afresh, so someone who just signed in is answered at once; :meth:`StrangerGate.forget`
does the same for one account (a sign-in that was refused used up its link).
While the database is unavailable, a person decided before keeps that decision and an
account the settings let in passes (the turn then holds the message until the database
is back); anyone else's message waits here for the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.chat.holding import HOLD_BACKOFF
from core.clock import Clock, Sleep, system_clock
from core.db.outage import unavailable
from core.people import Admission, People
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

REFUSE_ONCE_PER = timedelta(minutes=10)
REMEMBERED_STRANGERS = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``: answer the message. Otherwise ``refusal`` is the sentence to deliver now (empty: say nothing).

    ``admission`` is the decision behind an allowed verdict, handed to ``ChatService.turn`` so the
    message is decided once (None when it was let in from the settings during a database outage).
    """

    allowed: bool
    refusal: str = ""
    admission: Admission | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Refused:
    at: datetime
    revision: int | None


class StrangerGate:
    """The access decision of the adapters, with strangers refused once per ``window``."""

    def __init__(
        self,
        people: People,
        *,
        clock: Clock = system_clock,
        window: timedelta = REFUSE_ONCE_PER,
        remembered: int = REMEMBERED_STRANGERS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.people = people
        self.sleep = sleep
        self.clock = clock
        self.window = window
        self.remembered = remembered
        self._refused: OrderedDict[str, _Refused] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Verdict]] = {}

    def read_ahead(self) -> asyncio.Task[int]:
        """Start reading the people revision as a message arrives, alongside its claim.

        Hand the task to :meth:`check`, or cancel it when the message is not ours: the read
        began after the message arrived, so it is fresh for it, and its round trip overlaps
        the claim's instead of following it.
        """
        task = asyncio.ensure_future(self.people.revision())
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # a failure is raised by check
        return task

    async def check(self, identity: PlatformIdentity, *, revision: asyncio.Task[int] | None = None) -> Verdict:
        """Decide for one incoming message of ``identity`` (call before any other work on it).

        Messages of one account that arrive together share one decision, so a burst
        from a stranger is refused once, not once per message.  ``revision``: the
        :meth:`read_ahead` started for this message.
        """
        key = identity.key
        pending = self._pending.get(key)
        if pending is not None:
            if revision is not None:
                revision.cancel()
            verdict = await asyncio.shield(pending)
            return verdict if verdict.allowed else Verdict(False)  # the refusal is delivered once
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            verdict = await self._decide(identity, revision)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # those waiting get it; nobody else needs to
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(verdict)
        return verdict

    async def _decide(self, identity: PlatformIdentity, revision: asyncio.Task[int] | None) -> Verdict:
        """The decision, waiting out a database outage unless it can be made without the database."""
        waits = HOLD_BACKOFF.delays()
        for attempt in range(len(waits) + 1):
            try:
                return await self._decide_now(identity, revision if attempt == 0 else None)
            except Exception as exc:
                if not unavailable(exc) or attempt == len(waits):
                    raise
                known = self.people.known(identity)
                if known is not None:  # decided before: the cache holds while the database is away
                    return Verdict(known.allowed, admission=known if known.allowed else None)
                if self.people.accounts.allows(identity):  # let in by the settings: the turn holds the message
                    return Verdict(True)
                log.warning("database unavailable: deciding on %s again in %g s", identity.key, waits[attempt])
                await self.sleep(waits[attempt])
        raise AssertionError("unreachable")

    async def _decide_now(self, identity: PlatformIdentity, read: asyncio.Task[int] | None) -> Verdict:
        key = identity.key
        now = self.clock()
        seen = self._refused.get(key)
        recent = seen is not None and now - seen.at < self.window
        revision = await (read if read is not None else self.people.revision())
        if seen is not None and recent and revision == seen.revision:
            log.debug("ignored a message from %s: refused %s ago", key, now - seen.at)
            return Verdict(False)
        admission = await self.people.admit(identity, revision=revision)
        if admission.allowed:
            self._refused.pop(key, None)
            return Verdict(True, admission=admission)
        if seen is not None and recent:
            seen.revision = revision  # still refused after a change elsewhere: stay quiet until the window ends
            log.debug("ignored a message from %s: still refused", key)
            return Verdict(False)
        self._remember(key, _Refused(now, revision))
        return Verdict(False, admission.refusal)

    def forget(self, identity: PlatformIdentity) -> None:
        """Decide this account's next message afresh (e.g. after a sign-in attempt used its link)."""
        self._refused.pop(identity.key, None)

    def _remember(self, key: str, refused: _Refused) -> None:
        self._refused.pop(key, None)
        self._refused[key] = refused
        while len(self._refused) > self.remembered:
            self._refused.popitem(last=False)
        # Entries past their window are dropped as they reach the front, so the map stays small.
        while self._refused:
            oldest_key, oldest = next(iter(self._refused.items()))
            if self.clock() - oldest.at < self.window:
                break
            del self._refused[oldest_key]
