"""Files shared with a message: the core's policy picks which to download; the rest get a clear line.

Slack's private file URLs need the bot token, and a file's ``url_private``
is whatever the sharing side put there (a remote file can point anywhere).
The token therefore goes only to Slack's file host, over https in
production; external files are not downloaded; every download has a time limit
and reads no more than the policy's byte limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

from core.attachments import AttachmentPolicy, OfferedFile, SkipReason
from core.types import Attachment

log = logging.getLogger(__name__)

SLACK_FILE_HOST = "https://files.slack.com"
DOWNLOAD_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class SharedFiles:
    """What came of a message's files: those given to the model, and a line for the user."""

    attachments: tuple[Attachment, ...] = ()
    note: str = ""


class FileFetcher:
    """Downloads the files the core reads, with the bot token, from Slack's file host only.

    ``file_host`` is the one origin (scheme, host and port) the token is sent
    to; tests point it at the fake.  ``timeout`` bounds each download.
    """

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        token: str,
        *,
        policy: AttachmentPolicy | None = None,
        file_host: str = SLACK_FILE_HOST,
        timeout: float = DOWNLOAD_TIMEOUT,
    ) -> None:
        self._session = session
        self._token = token
        self.policy = policy or AttachmentPolicy()
        self.file_host = yarl.URL(file_host).origin()
        self.timeout = timeout

    async def fetch(self, files: Sequence[dict[str, Any]]) -> SharedFiles:
        """The files the core reads as attachments; the others named in ``note``."""
        offered = [
            OfferedFile(
                filename=str(file.get("name") or file.get("title") or "a file"),
                content_type=str(file.get("mimetype") or ""),
                size=_size(file.get("size")),
                external=bool(file.get("is_external")) or file.get("mode") == "external",
                ref=file,
            )
            for file in files
        ]
        plan = self.policy.plan(offered)
        attachments: list[Attachment] = []
        for accepted in plan.accepted:
            file: dict[str, Any] = accepted.file.ref  # type: ignore[assignment]
            name = accepted.file.filename
            url = self._trusted_url(file, name)
            data = await self._download(url, name, accepted.max_bytes) if url is not None else None
            if data is None:
                plan.skip(accepted)
            elif len(data) > accepted.max_bytes:
                plan.skip(accepted, SkipReason.TOO_LARGE)
            else:
                attachments.append(Attachment(accepted.kind, name, accepted.content_type, data))
        return SharedFiles(tuple(attachments), self.policy.skipped_note(plan.skipped))

    def _trusted_url(self, file: dict[str, Any], name: str) -> yarl.URL | None:
        """The file's download URL when it is on Slack's file host; None (and a log line) otherwise."""
        raw = file.get("url_private_download") or file.get("url_private")
        if not raw:
            log.warning("%s has no download URL", name)
            return None
        try:
            url = yarl.URL(str(raw))
        except ValueError:
            log.warning("%s has an unreadable download URL", name)
            return None
        if not url.is_absolute() or url.origin() != self.file_host:
            # Never send the bot token anywhere but Slack's own file host.
            log.warning("not downloading %s: its URL is not on %s", name, self.file_host)
            return None
        return url

    async def _download(self, url: yarl.URL, name: str, max_bytes: int) -> bytes | None:
        """At most ``max_bytes + 1`` bytes of the file (one more shows it was too large), or None."""
        try:
            async with self._session().get(
                url,
                headers={"Authorization": f"Bearer {self._token}"},
                allow_redirects=False,  # a redirect would carry the token to another host
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status != 200:
                    log.warning("downloading %s failed: HTTP %s", name, response.status)
                    return None
                # StreamReader.read(n) returns whatever has arrived, so read to the end or past the limit.
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > max_bytes:
                        break
                return b"".join(chunks)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("downloading %s failed: %s", name, type(exc).__name__)
            return None


def _size(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
