"""The day's PDF into the user's Drive folder, once.

The folder is the one chosen with /settings drive-folder (its id in
``users.settings``), or one named after the assistant, made on first use and
remembered. Before uploading, the folder is searched for a file of the same
name: a run that uploaded and then died before recording it finds its own file
instead of making a second one.
"""

from __future__ import annotations

from googleapiclient.discovery import Resource

from core.daily.day import DayPerson
from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.events import EventBus, GoogleBroken
from core.google.api import GoogleApiError
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded
from core.google.drive import DriveClient, DriveFile
from core.google.tokens import GoogleTokenStore
from core.identity.profile import Profiles


class UploadWaiting(Exception):
    """Google refused the user's token: the reconnect link was sent; the upload waits for it."""


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class DayUploader:
    """Uploads a day's PDF for a user (Drive ``drive.file`` scope)."""

    def __init__(
        self,
        *,
        drive: DriveClient,
        tokens: GoogleTokenStore,
        profiles: Profiles,
        folder_name: str,
        events: EventBus | None = None,
    ) -> None:
        """``events`` hears of a connection Google refused (:class:`GoogleBroken`)."""
        self.drive = drive
        self.tokens = tokens
        self.profiles = profiles
        self.folder_name = folder_name
        self.events = events

    async def still_refused(self, user_id: int) -> bool:
        """Whether the user's stored connection is still the refused one (no Google call)."""
        stored = await self.tokens.load(user_id)
        return stored is not None and stored.broken

    async def replace(self, person: DayPerson, filename: str, data: bytes, file_id: str | None) -> DriveFile | None:
        """The day's file with ``data`` as its content: the uploaded one (``file_id``) updated in place, or a new
        upload when there is none or it was deleted. None without Google; UploadWaiting as :meth:`upload`."""
        if file_id:
            try:
                return await self.drive.replace_pdf(person.id, file_id=file_id, data=data)
            except GoogleNotConnected:
                return None
            except GoogleReconnectNeeded:
                await self._broken(person.id)
                raise UploadWaiting from None
            except GoogleApiError as exc:
                if not _is_gone(exc):
                    raise
        found = await self.upload(person, filename, data)
        if found is not None and found.id != file_id:
            # A file of the day's name (an older upload): given the new content too.
            return await self.drive.replace_pdf(person.id, file_id=found.id, data=data)
        return found

    async def upload(self, person: DayPerson, filename: str, data: bytes) -> DriveFile | None:
        """The file on Drive (found or uploaded); None when the user has not connected Google.

        Raises UploadWaiting after asking the user to reconnect; other Google failures propagate.
        """
        try:
            stored_id = person.settings.get(DRIVE_FOLDER)
            folder = await self.drive.ensure_folder(
                person.id, folder_id=stored_id if isinstance(stored_id, str) else None, name=self.folder_name
            )
            if folder.id != stored_id:
                # Profiles moves the people revision itself: every process reads the new folder id.
                await self.profiles.update_settings(
                    person.id, {DRIVE_FOLDER: folder.id, DRIVE_FOLDER_NAME: folder.name}
                )
            found = await self.drive.api.run(person.id, "drive.v3", lambda s: _find(s, folder.id, filename))
            if found is not None:
                return found
            return await self.drive.upload_pdf(person.id, folder_id=folder.id, filename=filename, data=data)
        except GoogleNotConnected:
            return None
        except GoogleReconnectNeeded:
            await self._broken(person.id)
            raise UploadWaiting from None

    async def _broken(self, user_id: int) -> None:
        if self.events is not None:
            await self.events.publish(GoogleBroken(user_id))


def _is_gone(exc: GoogleApiError) -> bool:
    return exc.status in (403, 404)  # deleted, or no longer the app's to write


def _find(service: Resource, folder_id: str, name: str) -> DriveFile | None:
    query = f"name = '{_quote(name)}' and '{_quote(folder_id)}' in parents and trashed = false"
    listed = service.files().list(q=query, spaces="drive", fields="files(id,name,webViewLink)", pageSize=1).execute()
    files = listed.get("files") or []
    if not files:
        return None
    return DriveFile(id=files[0]["id"], name=files[0].get("name", name), web_view_link=files[0].get("webViewLink", ""))
