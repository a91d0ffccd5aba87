"""People.admit with Google sign-in configured: links for strangers, the email list, ALLOWED_ACCOUNTS beside it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from core.access import AccessPolicy
from core.clock import ManualClock
from core.db.database import Database
from core.identity.allowlist import EmailAllowlist
from core.identity.linking import AccountLinker
from core.identity.signin import SignIn
from core.identity.states import OAuthStateStore
from core.people import People
from core.types import PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit

STRANGER = PlatformIdentity("discord", "global", "111", "ada")
OWNER = PlatformIdentity("slack", "T1", "UOWNER", "owner")


def _people(database: Database, fake: FakeGoogle, emails: list[str]) -> tuple[People, AccountLinker]:
    clock = ManualClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    kit = GoogleKit(database, fake)
    allowlist = EmailAllowlist(emails)
    linker = AccountLinker(database, clock=clock)
    signin = SignIn(
        oauth=kit.oauth,
        states=OAuthStateStore(database, kit.cipher, clock=clock),
        linker=linker,
        allowlist=allowlist,
        tokens=kit.store,
        public_url="https://bot.example.org/",
    )
    people = People(
        database,
        accounts=AccessPolicy(["slack:T1:UOWNER"]),
        email_allowed=allowlist,
        clock=clock,
        sign_in_link=signin.start,
    )
    return people, linker


async def _count(database: Database, table: str) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_stranger_gets_a_fresh_link_each_time_and_nothing_else_is_stored(
    database: Database, google_fake: FakeGoogle
) -> None:
    people, _ = _people(database, google_fake, ["ada@example.org"])
    first = await people.admit(STRANGER)
    second = await people.admit(STRANGER)
    assert not first.allowed and first.user is None
    assert "https://bot.example.org/signin/" in first.refusal and "10 minutes" in first.refusal
    assert first.refusal != second.refusal, "a link is single use: never handed out twice from a cache"
    assert await _count(database, "users") == 0 and await _count(database, "identities") == 0
    assert await _count(database, "oauth_states") == 2


async def test_linked_allowed_refused_after_removal_and_listed_accounts(
    database: Database, google_fake: FakeGoogle
) -> None:
    people, linker = _people(database, google_fake, ["ada@example.org"])
    await linker.link(STRANGER, "ada@example.org")
    await people.changed()
    admitted = await people.admit(STRANGER)
    assert admitted.allowed and admitted.user is not None and admitted.user.email == "ada@example.org"

    # The owner takes ada off the list (a restart with other settings): refused, no link to a dead end.
    restarted, _ = _people(database, google_fake, ["someone@example.org"])
    refused = await restarted.admit(STRANGER)
    assert not refused.allowed
    assert refused.refusal == "Sorry, ada@example.org is not allowed to use this assistant. Ask its owner to add you."

    # ALLOWED_ACCOUNTS still lets its accounts in without a sign-in.
    owner = await restarted.admit(OWNER)
    assert owner.allowed and owner.user is not None and owner.user.email is None
