"""Text made safe to print on a terminal.

Stored messages, model output and the user's own input can hold escape
sequences (colours, cursor moves, a changed window title, OSC 52 clipboard
writes) or lone surrogates from invalid UTF-8. Printed raw, the first act on
the user's terminal and the second crash the encoder, so everything the chat
prints that it did not write itself goes through :func:`printable`.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 controls except tab and newline, DEL, and the C1 controls (0x80-0x9f act as ESC + letter on some terminals).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# Bidirectional overrides and isolates can make a line read differently from what it holds.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control pictures": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with control characters shown as symbols (ESC as ␛) and lone surrogates as �.

    Tabs are kept; newlines too unless ``newlines`` is False (one-line contexts
    such as a command name), where they become ␤. ``\\r\\n`` counts as a newline.
    """
    text = text.replace("\r\n", "\n")
    text = _SURROGATES.sub("\ufffd", text)
    text = _BIDI.sub("\ufffd", text)
    text = _CONTROLS.sub(_picture, text)
    if not newlines:
        text = text.replace("\n", "\u2424")
    return text


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def with_bold(plain: str) -> Text:
    """``plain`` (already made printable) as rich text, ``**words**`` in bold; nothing else in it is read as markup."""
    text = Text()
    end = 0
    for match in _BOLD.finditer(plain):
        text.append(plain[end : match.start()])
        text.append(match.group(1), style="bold")
        end = match.end()
    text.append(plain[end:])
    return text
