"""What the Accounts page and the API do with a person's accounts, Google and Drive folder: one place for both.

Every operation looks things up among the person's own (another's account or folder is
``NotYours``: 404); a change the rules refuse raises :class:`Refusal` with a sentence for the person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.webapp.deps import Connections, WebApp
from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.google.api import GoogleApiError
from core.google.connection import ConnectionStatus
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded
from core.google.drive import DriveFile
from core.identity.web_sessions import WebUser
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

LAST = "This is your only account: unlinking it would leave nothing to sign in with, so it stays."
NO_EMAIL = (
    "This account cannot be unlinked: you never signed in with Google, so it would become a new, empty person. "
    "Sign in with Google first (then your accounts share your email)."
)
NOT_SET_UP = "Accounts are not set up on this assistant."
NO_GOOGLE = "Google is not configured on this assistant."


class Refusal(Exception):
    """Nothing changed: ``status`` (404 not the person's or not set up, 409 the rules, 503 Google) and why."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


@dataclass(frozen=True, slots=True)
class ChosenFolder:
    """The Drive folder the daily logs go to ("" when none was chosen yet)."""

    id: str
    name: str


def connections_of(web: WebApp) -> Connections:
    """The Accounts services; Refusal (404) when this assistant has none."""
    if web.connections is None:
        raise Refusal(404, NOT_SET_UP)
    return web.connections


async def unlink(c: Connections, person: WebUser, key: str) -> PlatformIdentity:
    """Unlink one of the person's accounts (``platform:workspace:user_id``); never the last way in."""
    accounts = await c.people.accounts_of(person.id)
    chosen = next((a for a in accounts if a.key == key), None)
    if chosen is None:
        raise Refusal(404, "No such account of yours.")
    if len(accounts) < 2:
        raise Refusal(409, LAST)
    if not await c.linker.unlink(chosen):
        raise Refusal(409, NO_EMAIL)
    await c.people.changed()
    log.info("web app: user %s unlinked %s", person.id, chosen.key)
    return chosen


async def google_status(c: Connections, user_id: int) -> ConnectionStatus | None:
    """Whether the person's Google is connected; None when Google is not configured here."""
    return await c.google.status(user_id) if c.google is not None else None


async def connect_google(c: Connections, person: WebUser) -> str:
    """A single-use link that goes on to Google's consent for the person's Drive and Calendar."""
    if c.signin is None:
        raise Refusal(404, NO_GOOGLE)
    return await c.signin.start_connect(person.identity, person.id)


async def disconnect_google(c: Connections, user_id: int) -> bool:
    """Revoke and forget the person's Google access; False when nothing was connected."""
    if c.google is None:
        raise Refusal(404, NO_GOOGLE)
    return await c.google.disconnect(user_id)


async def drive_folders(c: Connections, user_id: int) -> tuple[list[DriveFile], str]:
    """The person's Drive folders, or why they could not be listed ("" and none when Google is not connected)."""
    if c.drive is None:
        return [], ""
    try:
        return await c.drive.folders(user_id), ""
    except GoogleNotConnected:
        return [], ""
    except GoogleReconnectNeeded:
        return [], "Google refused the stored access: connect Google again to list your folders."
    except GoogleApiError as exc:
        log.warning("web app: Drive folders of user %s could not be listed: %s", user_id, exc)
        return [], "Your Drive folders could not be listed now; try again later."


async def chosen_folder(c: Connections, user_id: int) -> ChosenFolder:
    """The folder the person chose for the daily logs."""
    settings = await c.profiles.settings(user_id)
    return ChosenFolder(str(settings.get(DRIVE_FOLDER, "") or ""), str(settings.get(DRIVE_FOLDER_NAME, "") or ""))


async def choose_folder(c: Connections, user_id: int, folder_id: str) -> DriveFile:
    """Send the person's next daily logs to one of the folders Drive lists for them."""
    folders, problem = await drive_folders(c, user_id)
    if problem:
        raise Refusal(503, problem)
    chosen = next((f for f in folders if f.id == folder_id), None)
    if chosen is None:
        raise Refusal(404, "No such folder in your Drive.")
    await c.profiles.update_settings(user_id, {DRIVE_FOLDER: chosen.id, DRIVE_FOLDER_NAME: chosen.name})
    return chosen
