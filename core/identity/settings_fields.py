"""The identity settings: the name the assistant calls a person, and the Google Drive folder for their files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.db.repositories import UserRecord
from core.google.api import GoogleApiError
from core.google.availability import GoogleAvailability
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded, GoogleUnavailable
from core.google.drive import DriveClient
from core.identity.profile import MAX_NAME, Profiles
from core.settings.field import Asker, Invalid, SettingField

log = logging.getLogger(__name__)

NOT_SET_UP = "Google is not set up on this assistant (its owner has not configured a Google client)."


def name_field(profiles: Profiles) -> SettingField:
    """``name``: what the assistant calls the person (``users.display_name``; the web form requires one)."""

    async def parse(text: str, _asker: Asker) -> str:
        if len(text) > MAX_NAME or any(ord(c) < 32 for c in text):
            raise Invalid(f"A name is at most {MAX_NAME} characters on one line.")
        return text

    def read(person: UserRecord) -> str:
        return person.display_name

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        return f"I call you {value}. Change it with {hint('<name>')}."

    return SettingField(
        name="name",
        label="Name",
        help="What I should call you",
        parse=parse,
        read=read,
        write=profiles.store_display_name,
        describe=describe,
        saved=lambda name: f"I'll call you {name}.",
        form_hint="What the assistant calls you",
        required="Your name cannot be empty.",
        max_length=MAX_NAME,
    )


@dataclass(frozen=True, slots=True)
class ChosenFolder:
    """A Drive folder made or found for the person: kept by id (renames and moves are fine), its name to show."""

    id: str
    name: str
    link: str


def drive_folder_field(
    profiles: Profiles,
    *,
    drive: DriveClient | None,
    availability: GoogleAvailability | None,
    default_folder: str,
) -> SettingField:
    """``drive_folder``: the folder for the person's files, found or made on Drive before it is stored.

    Without ``drive`` (Google not configured) the field is unavailable and says so.
    """

    async def parse(text: str, asker: Asker) -> ChosenFolder:
        if drive is None:
            raise Invalid(NOT_SET_UP)
        if len(text) > 200 or "/" in text:
            raise Invalid("A Drive folder name is at most 200 characters, without '/'.")
        user_id = asker.person.id
        try:
            folder = await drive.ensure_folder(user_id, folder_id=None, name=text)
        except GoogleNotConnected:
            raise Invalid("Connect Google first: /connect google.") from None
        except GoogleReconnectNeeded:
            if availability is not None:
                availability.forget(user_id)
            raise Invalid("Google no longer accepts the connection: run /connect google again.") from None
        except (GoogleUnavailable, GoogleApiError) as exc:
            log.warning("drive folder for user %s failed: %s", user_id, exc)
            raise Invalid(f"Google Drive could not be reached ({exc}); nothing changed.") from None
        return ChosenFolder(folder.id, folder.name, folder.web_view_link or "")

    def read(person: UserRecord) -> str | None:
        name = person.settings.get(DRIVE_FOLDER_NAME)
        return name if isinstance(name, str) and name else None

    async def write(user_id: int, folder: ChosenFolder) -> None:
        await profiles.store_settings(user_id, {DRIVE_FOLDER: folder.id, DRIVE_FOLDER_NAME: folder.name})

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        return f"Your files go to the Drive folder “{value or default_folder}”. Change it with {hint('<name>')}."

    return SettingField(
        name="drive_folder",
        label="Drive folder",
        help="The Google Drive folder for your files",
        parse=parse,
        read=read,
        write=write,
        describe=describe,
        saved=lambda folder: f"Files will go to the Drive folder “{folder.name}” {folder.link}".rstrip(),
        placeholder=default_folder,
        form_hint=f"Where your files go on Google Drive; empty keeps the current one ({default_folder} by default)",
        unavailable=None if drive is not None else NOT_SET_UP,
    )
