"""The web app wired as the container wires it: real sessions, tokens, chat, memory and the FastAPI app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from typing import Any

import aiohttp
import httpx
from fastapi import FastAPI

from bot.settings_page import SettingsPage
from bot.web import WebServer, create_app
from bot.webapp import WebApp
from bot.webapp.deps import Connections
from core.access import AccessPolicy
from core.chat import ChatService
from core.clock import ManualClock
from core.db.database import Database
from core.google.connection import GoogleConnections
from core.google.drive import DriveClient
from core.google.tokens import TokenCipher
from core.identity.access_tokens import AccessTokens
from core.identity.account import AccountSettings
from core.identity.allowlist import EmailAllowlist
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.identity.settings_access import SettingsAccess
from core.identity.signin import SignIn
from core.identity.states import OAuthStateStore
from core.identity.web_sessions import WebSessions
from core.llm import OpenAIModel
from core.memory.wiring import LongTermMemory, MemorySettings
from core.people import People
from core.reminders.actions import ReminderActions
from core.reminders.store import ReminderStore
from core.types import PlatformIdentity
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.google_server import FakeGoogle
from tests.feature_helpers import add_memory
from tests.google_helpers import GoogleKit
from tests.settings_helpers import every_setting

SECRET_KEY = "web-app-test-secret-0123456789abcdef-xyz"
ADA = PlatformIdentity("test", "w1", "ada", "Ada")
BOB = PlatformIdentity("test", "w1", "bob", "Bob")
DISCORD = PlatformIdentity("discord", "", "111", "ada#1")  # Ada's Discord account, to link to hers
ORIGIN = "https://testserver"
CSRF = re.compile(r'name="csrf" value="([0-9A-Za-z_-]+)"')
PDF = b"%PDF-1.4 the day of the test\n%%EOF"


class WebKit:
    """The web app of one test on ``chat``'s database and clock; ``pdf_days`` are the days with a PDF."""

    def __init__(
        self, db: Database, chat: ChatService, model: OpenAIModel, clock: ManualClock, *, public_url: str
    ) -> None:
        self.db = db
        self.chat = chat
        self.clock = clock
        self.states = OAuthStateStore(db, TokenCipher(SECRET_KEY), clock=clock)
        self.sessions = WebSessions(db, states=self.states, people=chat.people, public_url=public_url, clock=clock)
        self.tokens = AccessTokens(db, chat.people, clock=clock)
        self.memory: LongTermMemory = add_memory(
            chat, model, MemorySettings(embedding_dimensions=256, extraction=False)
        )
        self.pdf_days: set[tuple[int, date]] = set()
        self.reminders = ReminderStore(db, clock=clock)

        async def day_pdf(user_id: int, day: date) -> bytes | None:
            return PDF if (user_id, day) in self.pdf_days else None

        access = SettingsAccess(
            states=self.states, people=chat.people, secret_key=SECRET_KEY, public_url=public_url, clock=clock
        )
        account = AccountSettings(people=chat.people, registry=every_setting(chat, Profiles(db)))
        self.app: FastAPI = create_app(signin=None, settings_page=SettingsPage(access, account))
        self.app.state.webapp = WebApp(
            db=db, chat=chat, sessions=self.sessions, tokens=self.tokens, memory=self.memory, day_pdf=day_pdf,
            reminders=ReminderActions(self.reminders, clock=clock, changed=lambda: None),
        )  # fmt: skip

    def client(self) -> httpx.AsyncClient:
        """A browser-like client (keeps cookies; https, so a Secure cookie is sent back)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=ORIGIN)

    @asynccontextmanager
    async def signed_in(self, who: PlatformIdentity = ADA) -> AsyncIterator[httpx.AsyncClient]:
        """A client that opened a sign-in link of ``who``."""
        async with self.client() as client:
            yield await self._sign_in(client, who)

    async def _sign_in(self, client: httpx.AsyncClient, who: PlatformIdentity) -> httpx.AsyncClient:
        link = await self.sessions.link(who)
        path = "/" + link.split("/", 3)[3]
        shown = await client.get(path)
        assert shown.status_code == 200 and "Sign in" in shown.text, shown.text
        opened = await client.post(path, data={"csrf": csrf_of(shown.text)})
        assert opened.status_code == 200 and 'content="0;url=/chat"' in opened.text, opened.text
        return client

    async def user_id(self, who: PlatformIdentity) -> int:
        admission = await self.chat.people.admit(who)
        assert admission.user is not None
        return admission.user.id


def web_kit(db: Database, model: OpenAIModel, *, public_url: str = "https://bot.example.org") -> WebKit:
    """The web app on ``db`` with its own clock standing at ``TEST_NOW``."""
    clock = ManualClock(TEST_NOW)
    return WebKit(db, make_chat_service(db, model, clock=clock), model, clock, public_url=public_url)


def accounts_kit(db: Database, model: OpenAIModel, google: FakeGoogle) -> tuple[WebKit, GoogleKit]:
    """The web app at ``ORIGIN`` with its Accounts page on Google's fake; ada@example.org may sign in with Google."""
    kit = web_kit(db, model, public_url=ORIGIN)
    google_kit = GoogleKit(db, google, redirect_uri=ORIGIN + "/oauth/google/callback")
    add_connections(kit, google_kit, google_signin(kit, google_kit, ["ada@example.org"]))
    return kit, google_kit


def app_and_google_client(kit: WebKit) -> httpx.AsyncClient:
    """One cookie jar for the app at ``ORIGIN`` (in process) and Google's fake (on loopback), as a browser has."""
    return httpx.AsyncClient(mounts={ORIGIN: httpx.ASGITransport(app=kit.app)}, base_url=ORIGIN, timeout=15)


async def ada_on_two_accounts_and_bob(kit: WebKit) -> None:
    """Ada's test and Discord accounts linked by her email, and Bob, another person."""
    linker = AccountLinker(kit.db)
    await linker.link(ADA, "ada@example.org")
    await linker.link(DISCORD, "ada@example.org")
    await kit.user_id(BOB)


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page
    return match.group(1)


def add_vision(kit: WebKit, base_url: str) -> OpenAIModel:
    """Give the kit's chat the vision agent, as the container wires it (close the returned model after use)."""
    from core.agents.vision import VisionAgent
    from core.chat.media import MediaReader
    from core.db.repositories import MessageRepository
    from core.llm import ModelNames
    from core.media.files import StoredFiles
    from core.media.safe_image import SafeImages
    from core.media.voice import Transcriber

    vision_model = OpenAIModel(
        api_key="sk-test", base_url=base_url, models=ModelNames(vision="vision-test"), max_retries=0
    )
    kit.chat.runner.media = MediaReader(  # as tests/integration/test_media_turn.py does
        files=StoredFiles(kit.db), transcriber=Transcriber(vision_model), vision=VisionAgent(vision_model, images=SafeImages()),
        messages=MessageRepository(kit.db), counter=kit.chat.counter,
    )  # fmt: skip
    return vision_model


def add_connections(kit: WebKit, google: GoogleKit, signin: SignIn) -> None:
    """The Accounts page's services (accounts, Google, Drive) on the kit's app, as the container wires them."""
    connections = Connections(
        people=kit.chat.people, linker=AccountLinker(kit.db), profiles=Profiles(kit.db), signin=signin,
        google=GoogleConnections(google.store, google.oauth), drive=DriveClient(google.api),
    )  # fmt: skip
    kit.app.state.webapp = replace(kit.app.state.webapp, connections=connections)


def add_google_signin(kit: WebKit, signin: SignIn) -> None:
    """Offer "Sign in with Google" on the kit's app, as the container does when Google is configured."""
    kit.app.state.signin = signin
    kit.app.state.webapp = replace(kit.app.state.webapp, google_signin=True)


def google_people(db: Database, clock: ManualClock, emails: list[str]) -> People:
    """The people of a set-up with Google sign-in: test accounts let in, and the emails of ``emails``."""
    return People(db, accounts=AccessPolicy(("test:*",)), email_allowed=EmailAllowlist(emails), clock=clock)


def google_signin(kit: WebKit, google: GoogleKit, emails: list[str]) -> SignIn:
    """Sign-in with Google on the kit's database, through the Google fake of ``google``."""
    signin = SignIn(
        oauth=google.oauth, states=OAuthStateStore(kit.db, google.cipher, clock=kit.clock),
        linker=AccountLinker(kit.db, clock=kit.clock), allowlist=EmailAllowlist(emails), tokens=google.store,
        public_url=kit.sessions.public_url,
    )  # fmt: skip
    add_google_signin(kit, signin)
    return signin


async def sign_in_client(kit: WebKit, client: httpx.AsyncClient, who: PlatformIdentity = ADA) -> None:
    """Sign ``client`` in as ``who`` through a single-use link (any client: e.g. one that also reaches Google's fake)."""
    await kit._sign_in(client, who)


def chat_socket(session: aiohttp.ClientSession, server: WebServer, cookie: str, origin: str | None = None) -> Any:
    """The chat's WebSocket opened with the session ``cookie``, from ``origin`` (default: the site itself)."""
    headers = {"Cookie": f"captainslog_web={cookie}", "Origin": origin or server.url}
    return session.ws_connect(server.url.replace("http://", "ws://") + "/ws/chat", headers=headers)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, *last: str) -> list[dict[str, Any]]:
    """The frames the socket receives up to and including the first of a type in ``last``."""
    frames = []
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), 30)
        frames.append(frame)
        if frame["type"] in last:
            return frames


async def session_cookie(sessions: WebSessions, server: WebServer, who: PlatformIdentity = ADA) -> str:
    """The session cookie a browser gets by opening ``who``'s sign-in link on the running ``server``."""
    link = await sessions.link(who)  # what /account or `captainslog link` gives
    async with httpx.AsyncClient(base_url=server.url) as client:
        path = "/" + link.split("/", 3)[3]
        shown = await client.get(path)
        await client.post(path, data={"csrf": csrf_of(shown.text)})
        cookie = client.cookies.get("captainslog_web")
    assert cookie
    return cookie
