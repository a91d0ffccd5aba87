"""The sign-in test site: the real web server on port 0, sign-in wired to the database and the Google fake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from bot.web import WebServer, create_app
from core.clock import ManualClock
from core.db.database import Database
from core.events import AccountLinked, EventBus, SignInFinished
from core.identity.allowlist import EmailAllowlist
from core.identity.linking import AccountLinker
from core.identity.results import Outcome
from core.identity.signin import CALLBACK_PATH, SignIn, SignInResult
from core.identity.states import OAuthStateStore
from core.types import PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit, answer_approval, open_and_confirm

DISCORD = PlatformIdentity("discord", "", "111", "ada#1")
SLACK = PlatformIdentity("slack", "T1", "U222", "ada")
TERMINAL = PlatformIdentity("terminal", "local", "ada", "ada")


@dataclass
class Site:
    """The web server on port 0 with sign-in wired to the database and the Google fake."""

    server: WebServer
    signin: SignIn
    kit: GoogleKit
    clock: ManualClock
    fake: FakeGoogle
    db: Database
    results: list[SignInResult] = field(default_factory=list)
    bumps: list[int] = field(default_factory=list)
    told: list[tuple[list[str], str]] = field(default_factory=list)  # (account keys, text) sent to accounts

    async def follow(self, link: str, *, choice: str = "link") -> httpx.Response:
        """What a browser does with the link: through Google's consent, back to our callback, and the
        confirmation page's button."""
        return await open_and_confirm(link, choice=choice, timeout=10)

    def approval_link(self) -> str:
        """The approval link in the last message to the existing accounts."""
        found = re.search(r"https?://\S+/signin/approve/[\w-]+", self.told[-1][1])
        assert found is not None, self.told
        return found.group(0)

    async def sign_in(self, who: PlatformIdentity) -> None:
        """A full sign-in of ``who``, approved by an existing account when the email has one."""
        told = len(self.told)
        page = await self.follow(await self.signin.start(who))
        assert page.status_code == 200, page.text
        if len(self.told) > told:
            assert (await answer_approval(self.approval_link(), "approve", timeout=10)).status_code == 200


@pytest.fixture
async def site(database: Database, google_fake: FakeGoogle) -> AsyncIterator[Site]:
    clock = ManualClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    events = EventBus()
    app = create_app(signin=None, events=events)
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    kit = GoogleKit(database, google_fake, redirect_uri=server.url + CALLBACK_PATH)
    holder: list[Site] = []

    def bump(_event: AccountLinked) -> None:
        holder[0].bumps.append(1)

    events.subscribe(AccountLinked, bump)

    signin = SignIn(
        oauth=kit.oauth,
        states=OAuthStateStore(database, kit.cipher, clock=clock),
        linker=AccountLinker(database, clock=clock),
        allowlist=EmailAllowlist(["ada@example.org", "*@team.example.org"]),
        tokens=kit.store,
        public_url=server.url,
        events=events,
    )
    s = Site(server, signin, kit, clock, google_fake, database)
    holder.append(s)

    def hook(event: SignInFinished) -> None:
        if event.result.outcome is not Outcome.CONFIRM:  # what the DM of a finished step sees
            s.results.append(event.result)

    events.subscribe(SignInFinished, hook)

    async def tell(accounts: list[PlatformIdentity], message: str) -> None:
        s.told.append(([a.key for a in accounts], message))

    signin.approval.tell = tell

    app.state.signin = signin
    try:
        yield s
    finally:
        await server.stop()


async def rows(db: Database, sql: str) -> list[tuple]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql))).all()]


async def linked(db: Database) -> list[tuple]:
    return await rows(
        db,
        "SELECT i.platform, i.platform_user_id, u.email FROM identities i JOIN users u ON u.id = i.user_id"
        " ORDER BY i.id",
    )
