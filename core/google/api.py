"""Running google-api-python-client calls off the event loop, against a configurable root URL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build_from_document
from googleapiclient.errors import HttpError

from core.google.credentials import GoogleCredentialsProvider, GoogleReconnectNeeded, GoogleUnavailable

T = TypeVar("T")


class GoogleApiError(Exception):
    """A Drive or Calendar request failed; ``status`` is Google's HTTP status (0 when unreachable)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@cache
def _bundled_document(name: str) -> str:
    # The discovery documents ship inside google-api-python-client: no network call to build a client.
    return resources.files("googleapiclient.discovery_cache").joinpath(f"documents/{name}.json").read_text("utf-8")


def discovery_document(name: str, root_url: str) -> str:
    """The bundled discovery JSON of ``name`` (``drive.v3``) with its rootUrl pointed at ``root_url``."""
    doc = json.loads(_bundled_document(name))
    doc["rootUrl"] = root_url if root_url.endswith("/") else root_url + "/"
    doc.pop("mtlsRootUrl", None)
    return json.dumps(doc)


class GoogleApi:
    """Builds a service per call (one ``Http`` per call and thread: httplib2 is not thread-safe) and runs it."""

    def __init__(self, credentials: GoogleCredentialsProvider, *, api_url: str, timeout: float = 30.0) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self._documents = {name: discovery_document(name, api_url) for name in ("drive.v3", "calendar.v3")}

    async def run(self, user_id: int, api: str, call: Callable[[Resource], T]) -> T:
        """Run ``call(service)`` for the user in a thread, with the timeout; errors become GoogleApiError."""
        creds = await self.credentials.get(user_id)
        token_before = creds.token
        try:
            result = await asyncio.wait_for(asyncio.to_thread(self._call, api, creds, call), self.timeout)
        except TimeoutError:
            raise GoogleApiError("Google did not answer in time") from None
        except google.auth.exceptions.RefreshError:
            await self.credentials.store.mark_broken(user_id)
            raise GoogleReconnectNeeded(user_id) from None
        except HttpError as exc:
            raise _api_error(exc) from None
        except (httplib2.HttpLib2Error, OSError) as exc:
            raise GoogleUnavailable(f"Google could not be reached ({type(exc).__name__})") from None
        if creds.token != token_before:  # AuthorizedHttp refreshed after a 401: keep the new token
            await self.credentials.save_refreshed(user_id, creds)
        return result

    def _call(self, api: str, creds: Credentials, call: Callable[[Resource], T]) -> T:
        raw = httplib2.Http(timeout=self.timeout)
        # Resumable uploads answer 308 without a Location: a progress report, not a redirect.
        raw.redirect_codes = set(raw.redirect_codes) - {308}
        http = google_auth_httplib2.AuthorizedHttp(creds, http=raw)
        service = build_from_document(self._documents[api], http=http)
        try:
            return call(service)
        finally:
            service.close()


def _api_error(exc: HttpError) -> GoogleApiError:
    status = int(exc.resp.status)
    reason = exc.reason if isinstance(exc.reason, str) else ""
    if status in (401, 403):
        text = f"Google refused the request ({status}): {reason or 'permission denied'}"
    elif status == 404:
        text = "Google could not find that item"
    elif status >= 500:
        text = f"Google had a problem ({status}); try again later"
    else:
        text = f"Google rejected the request ({status}): {reason}"
    return GoogleApiError(text, status)


def first_page(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The items list of a Google list answer (empty when absent)."""
    return list(result.get(key) or [])
