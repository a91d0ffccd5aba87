"""Block Kit for a post with buttons: the text in a ``section``, the buttons in an ``actions`` block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.buttons import Button

# A section block's text holds at most 3,000 characters; a button's label 75.
SECTION_MAX = 3000
LABEL_MAX = 75


def blocks_of(text: str, buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """The blocks of a post (mrkdwn `text`, in sections of at most 3,000 characters) with `buttons` under it."""
    sections = [text[i : i + SECTION_MAX] for i in range(0, len(text), SECTION_MAX)] or [" "]
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:LABEL_MAX], "emoji": True},
            "action_id": b.action_id,
            "value": b.action_id,
        }
        for b in buttons
    ]
    return [
        *({"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in sections),
        {"type": "actions", "block_id": "captainslog_buttons", "elements": elements},
    ]
