"""One browser's chat socket, written by a task of its own.

The answer only queues its frames here and goes on: a browser that reads slowly (a phone in a
tunnel) never holds the answer, its storage or another tab. Frames go out in the order they were
queued; text deltas queued while the socket was busy go out joined as one frame, so a socket that
fell behind catches up with one write instead of one per model chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect


class FrameSender:
    """Sends frames in order until the browser goes away (a :class:`bot.webapp.live.Sink`)."""

    def __init__(self, ws: WebSocket) -> None:
        self._ws = ws
        self.open = True
        self._frames: deque[dict[str, Any] | list[str]] = deque()  # a list: text deltas still to be joined
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._run(), name="web-socket-sender")

    async def send(self, frame: dict[str, Any]) -> None:
        """Queue ``frame`` (returns at once; nothing when the browser has gone)."""
        self.put(frame)

    def put(self, frame: dict[str, Any]) -> None:
        """Queue ``frame``; a delta joins the delta queued just before it."""
        if not self.open:
            return
        if frame["type"] == "delta":
            last = self._frames[-1] if self._frames else None
            if isinstance(last, list):
                last.append(frame["text"])
            else:
                self._frames.append([frame["text"]])
        else:
            self._frames.append(frame)
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every queued frame is written (or the browser has gone)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop sending; what is still queued is dropped (the answer goes on without this browser)."""
        self._stop()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def _stop(self) -> None:
        self.open = False
        self._frames.clear()
        self._idle.set()

    async def _run(self) -> None:
        while self.open:
            await self._wake.wait()
            self._wake.clear()
            while self._frames:
                item = self._frames.popleft()
                frame = {"type": "delta", "text": "".join(item)} if isinstance(item, list) else item
                try:
                    await self._ws.send_json(frame)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    self._stop()
                    return
            self._idle.set()
