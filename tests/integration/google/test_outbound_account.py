"""Outbound posts (daily log, reconnect links, …) go to the account the person used last, never simply
to the newest account on a platform (issue 18: a newly linked account must not take over Ada's DMs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.access import AccessPolicy
from core.clock import ManualClock
from core.db.database import Database
from core.identity.allowlist import EmailAllowlist
from core.identity.linking import AccountLinker
from core.messenger import Delivery, Outbox
from core.people import People
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

OLD = PlatformIdentity("discord", "", "111", "ada")
NEW = PlatformIdentity("discord", "", "666", "ada-alt")
SLACK = PlatformIdentity("slack", "T1", "U1", "ada")
ADA = "ada@example.org"


class RecordingPlatform:
    """A connected platform that records which account each DM went to."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent: list[tuple[str, str]] = []

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        self.sent.append((account.user_id, text))
        ref = ConversationRef(self.platform, account.workspace, f"dm-{account.user_id}")
        return Delivery(self.platform, ref, (str(len(self.sent)),))

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        raise AssertionError("not used here")


async def _world(database: Database) -> tuple[People, Outbox, RecordingPlatform, ManualClock, int]:
    clock = ManualClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    people = People(database, accounts=AccessPolicy([]), email_allowed=EmailAllowlist([ADA]), clock=clock)
    linker = AccountLinker(database, clock=clock)
    user_id = await linker.link(OLD, ADA)
    assert await linker.link(NEW, ADA) == user_id  # linked later (e.g. approved today)
    await people.changed()
    outbox = Outbox(people)
    discord = RecordingPlatform("discord")
    outbox.register(discord)
    return people, outbox, discord, clock, user_id


async def test_a_newly_linked_account_that_was_never_used_does_not_get_the_posts(database: Database) -> None:
    _, outbox, discord, _, user_id = await _world(database)
    await outbox.send_to_user(user_id, "Your daily log is ready.")
    assert discord.sent == [("111", "Your daily log is ready.")]


async def test_posts_go_to_the_account_used_last(database: Database) -> None:
    people, outbox, discord, clock, user_id = await _world(database)
    assert (await people.admit(NEW)).allowed
    clock.advance(minutes=5)
    assert (await people.admit(OLD)).allowed  # Ada writes from her usual account again
    await outbox.send_to_user(user_id, "one")
    clock.advance(minutes=5)
    assert (await people.admit(NEW)).allowed
    await outbox.send_to_user(user_id, "two")
    assert discord.sent == [("111", "one"), ("666", "two")]
    # The platform chosen for the daily log still wins; within it, the account used last.
    slack = RecordingPlatform("slack")
    outbox.register(slack)
    await AccountLinker(database, clock=clock).link(SLACK, ADA)
    clock.advance(minutes=5)
    assert (await people.admit(SLACK)).allowed
    await outbox.send_to_user(user_id, "three", prefer_platform="discord")
    await outbox.send_to_user(user_id, "four")
    assert discord.sent[-1] == ("666", "three") and slack.sent == [("U1", "four")]
