"""What the model sees: system prompt with the time, older context, and the recent window.

The window is filled newest-first under a token budget with exact counts
(:mod:`core.tokens`).  Each message carries its timestamp in the user's time
zone, so the model knows the time and the gaps between messages.  The
``earlier`` slot is where rolling summaries of older ranges go.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.db.repositories import ContextRow
from core.timefmt import stamp
from core.tokens import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, TokenCounter
from core.types import Attachment, AttachmentKind, MessageStatus

DEFAULT_SYSTEM_PROMPT = (
    "You are {name}, a personal assistant who talks with {user} in a chat. "
    "Be helpful, direct and warm; use Markdown sparingly. "
    "The current time is {now}, time zone {zone}. "
    "Every message starts with the local time it was sent, in square brackets; "
    "those stamps are added by the system to tell you when things were said. "
    "Never write such a stamp yourself."
)


@dataclass(frozen=True, slots=True)
class BuiltContext:
    """The request's messages and their exact token count."""

    messages: list[dict[str, Any]]
    token_count: int
    window_message_ids: tuple[int, ...]


class ContextBuilder:
    """Builds the model's messages for one turn under ``token_budget``."""

    def __init__(
        self,
        counter: TokenCounter,
        *,
        token_budget: int = 16_000,
        assistant_name: str = "CaptainsLog",
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ) -> None:
        self.counter = counter
        self.token_budget = token_budget
        self.assistant_name = assistant_name
        self.system_prompt = system_prompt

    @property
    def per_message_overhead(self) -> int:
        """Tokens every message costs beyond its content: framing plus the time stamp."""
        # "[Tue 2026-11-24 14:03 CET] " is 13-15 tokens in o200k; 16 keeps the window safely under budget.
        return TOKENS_PER_MESSAGE + 16

    def system_message(self, *, now: datetime, tz: ZoneInfo, user_name: str, extra: Sequence[str] = ()) -> str:
        text = self.system_prompt.format(
            name=self.assistant_name, user=user_name or "the user", now=stamp(now, tz), zone=tz.key
        )
        return "\n\n".join([text, *extra])

    def window_budget(self, system_text: str) -> int:
        """Tokens left for the conversation once the system message is paid for."""
        return max(0, self.token_budget - self.counter.message(system_text) - TOKENS_PER_REPLY)

    def build(
        self,
        *,
        system_text: str,
        rows: Sequence[ContextRow],
        tz: ZoneInfo,
        current_images: Sequence[Attachment] = (),
        earlier: Sequence[str] = (),
    ) -> BuiltContext:
        """Assemble the request. ``rows`` are oldest first and already fit the budget."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_text}]
        total = self.counter.message(system_text) + TOKENS_PER_REPLY
        for text in earlier:
            messages.append({"role": "system", "content": text})
            total += self.counter.message(text)
        last_index = len(rows) - 1
        for index, row in enumerate(rows):
            content = f"[{stamp(row.created_at, tz)}] {self._body(row)}"
            total += self.counter.message(content)
            if index == last_index and row.role == "user" and current_images:
                parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
                parts.extend(_image_part(image) for image in current_images)
                messages.append({"role": "user", "content": parts})
            else:
                messages.append({"role": row.role, "content": content})
        return BuiltContext(messages, total, tuple(row.id for row in rows))

    @staticmethod
    def _body(row: ContextRow) -> str:
        body = row.content
        for attachment in row.attachments or ():
            body += f"\n[attached {attachment.get('kind', 'file')}: {attachment.get('filename', '')}]"
        if row.status == MessageStatus.PARTIAL:
            body += f"\n[this answer was cut off: {row.status_reason or 'interrupted'}]"
        return body


def _image_part(image: Attachment) -> dict[str, Any]:
    if image.data:
        url = f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"
    else:
        url = image.url
    return {"type": "image_url", "image_url": {"url": url}}


def images_of(attachments: Sequence[Attachment]) -> list[Attachment]:
    """The attachments the model can look at."""
    return [a for a in attachments if a.kind == AttachmentKind.IMAGE and (a.data or a.url)]
