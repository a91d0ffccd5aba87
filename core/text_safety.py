"""Text from users made safe to store and to show the model, at the core's boundary.

* Storable: NUL characters (refused by PostgreSQL) and lone surrogates (from
  invalid UTF-8) become visible replacement characters; nothing else changes.
* Names: display names are cleaned and capped before they reach a prompt.
* Framing: text that imitates the system's time stamps is defused in what the
  model sees (the stored text is untouched).
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_NAME = 40
_NAME_ALLOWED = re.compile(r"[^\w .'\-]", re.UNICODE)
# What our own stamps look like: "[Tue 2026-11-24 09:05 CET]" or "[Tue 2026-11-24 09:05 CET, Bob]".
_FORGED_STAMP = re.compile(r"^\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2}[^\]\n]{0,80})\]", re.MULTILINE)


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced, so every database stores it and nothing is dropped."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text


def clean_name(name: str, *, fallback: str = "") -> str:
    """A display name fit for a prompt: letters, digits, spaces and . ' - only, at most :data:`MAX_NAME` characters."""
    name = unicodedata.normalize("NFKC", storable(name))
    name = " ".join(_NAME_ALLOWED.sub(" ", name).split())
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1].rstrip() + "…"
    return name or fallback


def defuse_framing(text: str) -> str:
    """User text as the model sees it: a line that imitates a time stamp is shown in parentheses, not brackets."""
    return _FORGED_STAMP.sub(r"(\1)", text) if "[" in text else text
