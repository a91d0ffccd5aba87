"""Google Drive for a user: the assistant's folder (kept by id) and PDF uploads into it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from core.google.api import GoogleApi, GoogleApiError

FOLDER_MIME = "application/vnd.google-apps.folder"
RESUMABLE_FROM = 5 * 1024 * 1024  # Google's advice: resumable uploads above 5 MB
CHUNK_SIZE = 1024 * 1024  # a multiple of 256 KiB, as Drive requires


@dataclass(frozen=True, slots=True)
class DriveFile:
    id: str
    name: str
    web_view_link: str


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class DriveClient:
    """Drive v3 through google-api-python-client (``drive.file`` scope: only files the app made)."""

    def __init__(self, api: GoogleApi, *, resumable_from: int = RESUMABLE_FROM, chunk_size: int = CHUNK_SIZE) -> None:
        self.api = api
        self.resumable_from = resumable_from
        self.chunk_size = chunk_size

    async def ensure_folder(self, user_id: int, *, folder_id: str | None, name: str) -> DriveFile:
        """The folder with the stored ``folder_id`` if it still exists; otherwise one named ``name``
        (found among the app's folders, or created). Callers store the returned id, so renaming
        or moving the folder in Drive keeps working."""
        return await self.api.run(user_id, "drive.v3", lambda s: self._ensure_folder(s, folder_id, name))

    def _ensure_folder(self, service: Resource, folder_id: str | None, name: str) -> DriveFile:
        fields = "id,name,mimeType,trashed,webViewLink"
        if folder_id:
            try:
                found = service.files().get(fileId=folder_id, fields=fields).execute()
                if found.get("mimeType") == FOLDER_MIME and not found.get("trashed"):
                    return _file(found)
            except HttpError as exc:
                if exc.resp.status != 404:  # a missing folder is made anew; anything else is an error
                    raise
        query = f"name = '{_quote(name)}' and mimeType = '{FOLDER_MIME}' and trashed = false"
        listed = service.files().list(q=query, spaces="drive", fields=f"files({fields})", pageSize=10).execute()
        if listed.get("files"):
            return _file(listed["files"][0])
        created = service.files().create(body={"name": name, "mimeType": FOLDER_MIME}, fields=fields).execute()
        return _file(created)

    async def folders(self, user_id: int, *, limit: int = 100) -> list[DriveFile]:
        """The user's folders this app can see (``drive.file``: those it made or was given), by name."""
        return await self.api.run(user_id, "drive.v3", lambda s: _folders(s, limit))

    async def upload_pdf(self, user_id: int, *, folder_id: str, filename: str, data: bytes) -> DriveFile:
        """Upload ``data`` as a PDF into the folder; multipart when small, resumable when large."""
        return await self.api.run(user_id, "drive.v3", lambda s: self._upload(s, folder_id, filename, data))

    async def replace_pdf(self, user_id: int, *, file_id: str, data: bytes) -> DriveFile:
        """Put ``data`` in place of an uploaded PDF's content (same file, same link); GoogleApiError with
        status 404 when the file is gone."""
        return await self.api.run(user_id, "drive.v3", lambda s: _replace(s, file_id, data))

    def _upload(self, service: Resource, folder_id: str, filename: str, data: bytes) -> DriveFile:
        resumable = len(data) >= self.resumable_from
        media = MediaIoBaseUpload(
            io.BytesIO(data),
            mimetype="application/pdf",
            resumable=resumable,
            chunksize=self.chunk_size if resumable else -1,
        )
        request = service.files().create(
            body={"name": filename, "parents": [folder_id], "mimeType": "application/pdf"},
            media_body=media,
            fields="id,name,webViewLink",
        )
        if not resumable:
            return _file(request.execute())
        response: dict[str, Any] | None = None
        while response is None:
            _status, response = request.next_chunk(num_retries=2)
        return _file(response)


def _folders(service: Resource, limit: int) -> list[DriveFile]:
    query = f"mimeType = '{FOLDER_MIME}' and trashed = false"
    listed = service.files().list(q=query, spaces="drive", fields="files(id,name,webViewLink)", pageSize=limit)
    return sorted((_file(f) for f in listed.execute().get("files") or []), key=lambda f: f.name.lower())


def _replace(service: Resource, file_id: str, data: bytes) -> DriveFile:
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype="application/pdf", resumable=False)
    request = service.files().update(fileId=file_id, body={}, media_body=media, fields="id,name,webViewLink")
    return _file(request.execute())


def _file(resource: dict[str, Any]) -> DriveFile:
    if "id" not in resource:
        raise GoogleApiError("Drive's answer had no file id")
    return DriveFile(id=resource["id"], name=resource.get("name", ""), web_view_link=resource.get("webViewLink", ""))
