"""The settings page wired as the container would: real People, Profiles, state store, commands and web app."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI

from bot.settings_page import SettingsPage
from bot.web import create_app
from core.chat import ChatService
from core.clock import ManualClock
from core.commands import CommandReply, CommandRequest, CommandSet
from core.db.database import Database
from core.google.tokens import TokenCipher
from core.identity.account import AccountSettings
from core.identity.commands import IdentityCommands, identity_commands
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.identity.settings_access import SettingsAccess
from core.identity.states import OAuthStateStore
from core.types import ConversationRef, PlatformIdentity
from tests.settings_helpers import every_setting

SECRET_KEY = "settings-page-test-secret-0123456789abcdef"
ADA = PlatformIdentity("test", "w1", "ada", "Ada")
BOB = PlatformIdentity("test", "w1", "bob", "Bob")
LINK = re.compile(r"(https?://\S+/settings/[\w-]+)")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class SettingsKit:
    """Commands (with /account) and the web app of one test, on ``chat``'s database and clock."""

    def __init__(self, db: Database, chat: ChatService, clock: ManualClock, *, public_url: str) -> None:
        self.db = db
        self.chat = chat
        self.clock = clock
        self.profiles = Profiles(db)
        self.states = OAuthStateStore(db, TokenCipher(SECRET_KEY), clock=clock)
        self.access = SettingsAccess(
            states=self.states, people=chat.people, secret_key=SECRET_KEY, public_url=public_url, clock=clock
        )
        registry = every_setting(chat, self.profiles)
        self.account = AccountSettings(people=chat.people, registry=registry)
        self.commands = CommandSet(chat, None, registry)  # type: ignore[arg-type]  # /account never calls the model
        handlers = IdentityCommands(
            chat=chat, linker=AccountLinker(db, clock=clock), google=None, settings_link=self.access.link
        )
        for command in identity_commands(handlers):
            self.commands.add(command)
        self.app: FastAPI = create_app(signin=None, settings_page=SettingsPage(self.access, self.account))

    async def command(self, identity: PlatformIdentity, name: str = "account") -> CommandReply:
        place = ConversationRef(identity.platform, identity.workspace, f"dm-{identity.user_id}")
        return await self.commands.run(name, CommandRequest(identity, place, {}))

    async def link(self, identity: PlatformIdentity) -> str:
        """The link /account sends ``identity`` (asserting the reply is private)."""
        reply = await self.command(identity)
        assert reply.private, reply
        match = LINK.search(reply.text)
        assert match, reply.text
        return match.group(1)

    def client(self) -> httpx.AsyncClient:
        """A browser-like client (keeps cookies; https, so a Secure cookie is sent back)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="https://testserver")

    def later(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page
    return match.group(1)
