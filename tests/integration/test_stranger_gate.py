"""StrangerGate on the real People and database: once per window, and decided afresh when people change."""

from __future__ import annotations

from adapters.strangers import StrangerGate, Verdict
from core.access import AccessPolicy
from core.clock import ManualClock
from core.db.database import Database
from core.identity.linking import AccountLinker
from core.people import REFUSAL, People
from core.types import PlatformIdentity
from tests.conftest import TEST_NOW

EVE = PlatformIdentity("slack", "T1", "UEVE", "eve")


async def test_a_stranger_who_signs_in_is_let_in_at_once(database: Database) -> None:
    clock = ManualClock(TEST_NOW)
    people = People(
        database, accounts=AccessPolicy(()), email_allowed=lambda email: email == "eve@example.org", clock=clock
    )
    gate = StrangerGate(people, clock=clock)

    assert await gate.check(EVE) == Verdict(False, REFUSAL)
    assert await gate.check(EVE) == Verdict(False), "the second message in the window is ignored"

    # Eve's account is linked to an allowed email elsewhere (the sign-in callback, another process).
    await AccountLinker(database, clock=clock).link(EVE, "eve@example.org")
    await people.changed()
    assert await gate.check(EVE) == Verdict(True)


async def test_still_refused_after_a_change_stays_quiet_until_the_window_ends(database: Database) -> None:
    clock = ManualClock(TEST_NOW)
    people = People(database, accounts=AccessPolicy(["slack:T1:UOWNER"]), clock=clock)
    gate = StrangerGate(people, clock=clock)

    assert (await gate.check(EVE)).refusal == REFUSAL
    await people.changed()  # something about someone else changed
    assert await gate.check(EVE) == Verdict(False)
    clock.advance(minutes=9)
    assert await gate.check(EVE) == Verdict(False)
    clock.advance(minutes=2)
    assert await gate.check(EVE) == Verdict(False, REFUSAL), "a new window: refused again, once"
    assert await gate.check(EVE) == Verdict(False)
