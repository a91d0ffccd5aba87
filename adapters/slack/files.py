"""Files shared with a message: images are downloaded for the model, everything else gets a clear line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.types import Attachment, AttachmentKind

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # what the vision models accept per image


@dataclass(frozen=True, slots=True)
class SharedFiles:
    """What came of a message's files: the images to show the model, and a line for the user."""

    attachments: tuple[Attachment, ...] = ()
    note: str = ""


class FileFetcher:
    """Downloads shared images with the bot token (Slack's private file URLs need it)."""

    def __init__(
        self, session: Callable[[], aiohttp.ClientSession], token: str, *, max_bytes: int = MAX_IMAGE_BYTES
    ) -> None:
        self._session = session
        self._token = token
        self.max_bytes = max_bytes

    async def fetch(self, files: Sequence[dict[str, Any]]) -> SharedFiles:
        """Images as attachments; other files, and images that could not be fetched, named in ``note``."""
        attachments: list[Attachment] = []
        unsupported: list[str] = []
        failed: list[str] = []
        for file in files:
            name = str(file.get("name") or file.get("title") or "a file")
            mimetype = str(file.get("mimetype") or "")
            url = file.get("url_private_download") or file.get("url_private")
            if not mimetype.startswith("image/"):
                unsupported.append(name)
            elif not url:
                failed.append(name)
            elif int(file.get("size") or 0) > self.max_bytes:
                failed.append(f"{name} (over {self.max_bytes // (1024 * 1024)} MB)")
            else:
                data = await self._download(str(url), name)
                if data is None:
                    failed.append(name)
                else:
                    attachments.append(Attachment(AttachmentKind.IMAGE, name, mimetype, data))
        lines = []
        if unsupported:
            lines.append(f"I can't read {_names(unsupported)} yet: only images are supported.")
        if failed:
            lines.append(f"I couldn't download {_names(failed)} from Slack.")
        return SharedFiles(tuple(attachments), "\n".join(lines))

    async def _download(self, url: str, name: str) -> bytes | None:
        try:
            async with self._session().get(url, headers={"Authorization": f"Bearer {self._token}"}) as response:
                if response.status != 200:
                    log.warning("downloading %s failed: HTTP %s", name, response.status)
                    return None
                data = await response.content.read(self.max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("downloading %s failed: %s", name, exc)
            return None
        if len(data) > self.max_bytes:
            log.warning("%s is larger than %d bytes; not given to the model", name, self.max_bytes)
            return None
        return data


def _names(names: Sequence[str]) -> str:
    shown = list(names[:3])
    rest = len(names) - len(shown)
    if rest:
        return f"{', '.join(shown)} and {rest} more"
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} and {shown[-1]}"
