"""Drive v3 and Calendar v3 of the Google fake (mixed into :class:`tests.fakes.google_server.FakeGoogle`).

Files and events live in plain dicts the tests read: ``files`` (Drive resources by id),
``file_data`` (uploaded bytes by id) and ``events`` (calendar id -> event id -> event).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FOLDER_MIME = "application/vnd.google-apps.folder"


@dataclass
class _Upload:
    metadata: dict[str, Any]
    total: int | None
    data: bytearray = field(default_factory=bytearray)


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _event_time(part: dict[str, Any]) -> dt.datetime:
    if "dateTime" in part:
        return _parse_time(part["dateTime"])
    return dt.datetime.fromisoformat(part["date"]).replace(tzinfo=dt.UTC)


_Q_CLAUSE = re.compile(
    r"^\s*(name|mimeType)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$|^\s*trashed\s*=\s*(true|false)\s*$"
    r"|^\s*'((?:[^'\\]|\\.)*)'\s+in\s+parents\s*$"
)


class GoogleApis:
    """Drive and Calendar handlers; the server provides ``url`` and routes them with :meth:`add_api_routes`."""

    url: str

    def reset_apis(self) -> None:
        """Forget every file, upload and event."""
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        self._uploads: dict[str, _Upload] = {}
        self._ids = itertools.count(1)

    def add_api_routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/drive/v3/files", self._files_list)
        r.add_post("/drive/v3/files", self._files_create_metadata)
        r.add_get("/drive/v3/files/{id}", self._files_get)
        r.add_post("/upload/drive/v3/files", self._upload_start)
        r.add_put("/upload/drive/v3/files", self._upload_chunk)
        r.add_patch("/upload/drive/v3/files/{id}", self._upload_replace)
        r.add_get("/calendar/v3/calendars/{cal}/events", self._events_list)
        r.add_post("/calendar/v3/calendars/{cal}/events", self._events_insert)
        r.add_get("/calendar/v3/calendars/{cal}/events/{id}", self._events_get)
        r.add_patch("/calendar/v3/calendars/{cal}/events/{id}", self._events_patch)
        r.add_delete("/calendar/v3/calendars/{cal}/events/{id}", self._events_delete)
        r.add_post("/calendar/v3/freeBusy", self._freebusy)

    # -- Drive -------------------------------------------------------------------------------
    def _new_file(self, metadata: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
        file_id = f"file{next(self._ids)}"
        mime = metadata.get("mimeType", "application/octet-stream")
        kind = "drive/folders" if mime == FOLDER_MIME else "file/d"
        resource = {
            "kind": "drive#file",
            "id": file_id,
            "name": metadata.get("name", "Untitled"),
            "mimeType": mime,
            "parents": list(metadata.get("parents") or ["root"]),
            "trashed": False,
            "webViewLink": f"https://drive.google.com/{kind}/{file_id}/view",
        }
        if data is not None:
            resource["size"] = str(len(data))
            self.file_data[file_id] = bytes(data)
        self.files[file_id] = resource
        return resource

    async def _files_list(self, request: web.Request) -> web.Response:
        items = list(self.files.values())
        for clause in filter(None, request.query.get("q", "").split(" and ")):
            m = _Q_CLAUSE.match(clause)
            if m is None:
                return api_error(400, f"Invalid Value: {clause}")
            if m.group(1):
                value = m.group(2).replace("\\'", "'")
                items = [f for f in items if f.get(m.group(1)) == value]
            elif m.group(3):
                items = [f for f in items if f["trashed"] == (m.group(3) == "true")]
            else:
                items = [f for f in items if m.group(4) in f["parents"]]
        return web.json_response({"kind": "drive#fileList", "files": items})

    async def _files_get(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["id"])
        if found is None:
            return api_error(404, f"File not found: {request.match_info['id']}.")
        return web.json_response(found)

    async def _files_create_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(self._new_file(await request.json()))

    async def _upload_start(self, request: web.Request) -> web.Response:
        kind = request.query.get("uploadType")
        if kind == "multipart":
            parts = _multipart_parts(await request.read(), request.headers.get("Content-Type", ""))
            if len(parts) != 2:
                return api_error(400, "A multipart upload has a metadata part and a media part.")
            return web.json_response(self._new_file(json.loads(parts[0]), parts[1]))
        if kind == "resumable":
            raw = await request.read()
            metadata = json.loads(raw) if raw else {}
            length = request.headers.get("X-Upload-Content-Length")
            upload_id = secrets.token_urlsafe(12)
            self._uploads[upload_id] = _Upload(metadata, int(length) if length else None)
            location = f"{self.url}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}"
            return web.Response(status=200, headers={"Location": location})
        return api_error(400, f"Unsupported uploadType {kind}")

    async def _upload_replace(self, request: web.Request) -> web.Response:
        """``files.update`` with new content (multipart: metadata then media; or the media alone)."""
        found = self.files.get(request.match_info["id"])
        if found is None or found.get("trashed"):
            return api_error(404, f"File not found: {request.match_info['id']}.")
        body = await request.read()
        if request.query.get("uploadType") == "multipart":
            parts = _multipart_parts(body, request.headers.get("Content-Type", ""))
            if len(parts) != 2:
                return api_error(400, "A multipart upload has a metadata part and a media part.")
            found.update({k: v for k, v in json.loads(parts[0] or b"{}").items() if k in ("name", "mimeType")})
            body = parts[1]
        self.file_data[found["id"]] = body
        found["modifiedTime"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        return web.json_response(found)

    async def _upload_chunk(self, request: web.Request) -> web.Response:
        upload = self._uploads.get(request.query.get("upload_id", ""))
        if upload is None:
            return api_error(404, "No such upload session.")
        data = await request.read()
        m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)|bytes \*/(\d+)", request.headers.get("Content-Range", ""))
        if m and m.group(1) is not None:
            if int(m.group(1)) != len(upload.data):
                return api_error(400, "Content-Range does not continue the upload.")
            upload.data.extend(data)
            if m.group(3) != "*":
                upload.total = int(m.group(3))
        elif not m:
            upload.data.extend(data)
            upload.total = len(upload.data)
        elif m.group(4) is not None:
            upload.total = int(m.group(4))
        if upload.total is not None and len(upload.data) >= upload.total:
            return web.json_response(self._new_file(upload.metadata, bytes(upload.data)))
        headers = {"Range": f"bytes=0-{len(upload.data) - 1}"} if upload.data else {}
        return web.Response(status=308, headers=headers)

    # -- Calendar ----------------------------------------------------------------------------
    def _calendar(self, request: web.Request) -> dict[str, dict[str, Any]]:
        return self.events.setdefault(request.match_info["cal"], {})

    async def _events_list(self, request: web.Request) -> web.Response:
        q = request.query
        items = [e for e in self._calendar(request).values() if e["status"] != "cancelled"]
        if "timeMin" in q:
            items = [e for e in items if _event_time(e["end"]) > _parse_time(q["timeMin"])]
        if "timeMax" in q:
            items = [e for e in items if _event_time(e["start"]) < _parse_time(q["timeMax"])]
        items.sort(key=lambda e: _event_time(e["start"]))
        return web.json_response({"kind": "calendar#events", "timeZone": q.get("timeZone", "UTC"), "items": items})

    async def _events_insert(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "start" not in body or "end" not in body:
            return api_error(400, "Missing end time.")
        event_id = f"ev{next(self._ids)}"
        event = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            **body,
        }
        self._calendar(request)[event_id] = event
        return web.json_response(event)

    async def _events_get(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        return web.json_response(event) if event else api_error(404, "Not Found")

    async def _events_patch(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        if event is None:
            return api_error(404, "Not Found")
        event.update(await request.json())
        return web.json_response(event)

    async def _events_delete(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        if event is None or event["status"] == "cancelled":
            return api_error(410 if event else 404, "Resource has been deleted")
        event["status"] = "cancelled"
        return web.Response(status=204)

    async def _freebusy(self, request: web.Request) -> web.Response:
        body = await request.json()
        lo, hi = _parse_time(body["timeMin"]), _parse_time(body["timeMax"])
        calendars = {}
        for item in body.get("items", []):
            busy = [
                {"start": e["start"].get("dateTime"), "end": e["end"].get("dateTime")}
                for e in self.events.get(item["id"], {}).values()
                if e["status"] != "cancelled" and _event_time(e["end"]) > lo and _event_time(e["start"]) < hi
            ]
            calendars[item["id"]] = {"busy": busy}
        return web.json_response({"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "calendars": calendars})


def api_error(status: int, message: str) -> web.Response:
    reason = {401: "authError", 403: "forbidden", 404: "notFound"}.get(status, "backendError")
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    return web.json_response(body, status=status)


def _multipart_parts(body: bytes, content_type: str) -> list[bytes]:
    """The bodies of a multipart/related message (the middleware already read the stream)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if m is None:
        return []
    parts = []
    for chunk in body.split(b"--" + m.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:] if chunk.startswith(b"\n") else chunk
        ends = [(i, n) for i, n in ((chunk.find(b"\r\n\r\n"), 4), (chunk.find(b"\n\n"), 2)) if i >= 0]
        if not ends:
            continue
        start, width = min(ends)
        payload = chunk[start + width :]
        payload = payload[:-2] if payload.endswith(b"\r\n") else payload[:-1] if payload.endswith(b"\n") else payload
        parts.append(payload)
    return parts
