"""Answers being written for the web, per person: a reload or a dropped socket picks the answer up again.

The turn runs as its own task, not inside a WebSocket: sockets come and go. A socket that
joins mid-answer gets the text so far in one ``resume`` frame, then every later frame; the
snapshot and the joining happen without an await between them, so nothing is lost or shown twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where frames go (a WebSocket, bot/webapp/sender.py): it queues the frame and returns at once,
    so the answer never waits on a browser; it swallows its own errors."""

    async def send(self, frame: dict[str, Any]) -> None: ...


@dataclass(eq=False)
class LiveAnswer:
    """One person's answer in progress: the text so far, the status line, who watches."""

    answer_id: int | None = None
    parts: list[str] = field(default_factory=list)  # the text so far, joined only for a socket that joins
    status: str = ""
    sinks: set[Sink] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    finished: bool = False  # the last frame went out (the turn may still be tidying up)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done() and not self.finished

    async def emit(self, frame: dict[str, Any]) -> None:
        """Remember what the frame changes, then send it to every watching socket."""
        kind = frame["type"]
        if kind == "started":
            self.answer_id = frame["id"]
        elif kind == "delta":
            self.parts.append(frame["text"])
        elif kind == "status":
            self.status = frame["text"]
        elif kind in ("done", "error", "stopped"):
            self.finished = True
        for sink in list(self.sinks):
            await sink.send(frame)

    def snapshot(self) -> dict[str, Any]:
        """The ``resume`` frame for a socket that joins now."""
        return {"type": "resume", "id": self.answer_id, "text": "".join(self.parts), "status": self.status}


class LiveAnswers:
    """The answers in progress of this process, one per person at most."""

    def __init__(self) -> None:
        self._by_person: dict[int, LiveAnswer] = {}
        self._open: dict[int, set[Sink]] = {}  # every open chat socket of each person (what `speak` reaches)
        self._session_of: dict[Sink, str | None] = {}  # the session cookie each socket opened with

    def running(self, person_id: int) -> LiveAnswer | None:
        """The person's answer in progress, if any."""
        live = self._by_person.get(person_id)
        return live if live is not None and live.running else None

    def answer_ids(self) -> set[int]:
        """The stored ids of the answers being written (not yet final in the database)."""
        return {
            a.answer_id for a in self._by_person.values() if a.answer_id is not None and a.task and not a.task.done()
        }

    async def join(self, person_id: int, sink: Sink, session: str | None = None) -> None:
        """Watch the person's answer in progress (sends the text so far first); nothing when there is none.
        The socket also receives what the assistant says by itself (:meth:`tell`) until it leaves, while
        ``session`` (its cookie) stays signed in."""
        self._open.setdefault(person_id, set()).add(sink)
        self._session_of[sink] = session
        live = self.running(person_id)
        if live is not None:
            live.sinks.add(sink)  # before the snapshot's await: a frame emitted meanwhile follows the snapshot
            await sink.send(live.snapshot())

    def leave(self, person_id: int, sink: Sink) -> None:
        self._session_of.pop(sink, None)
        sockets = self._open.get(person_id)
        if sockets is not None:
            sockets.discard(sink)
            if not sockets:
                del self._open[person_id]
        live = self._by_person.get(person_id)
        if live is not None:
            live.sinks.discard(sink)

    async def tell(
        self, person_id: int, frame: dict[str, Any], *, signed_in: Callable[[str | None], Awaitable[bool]]
    ) -> int:
        """Send ``frame`` to every open chat socket of the person (a reminder) whose session is still signed in
        (``signed_in``: a sign-out, here or in another process, ends what an open tab receives); returns how
        many got it."""
        told = 0
        for sink in list(self._open.get(person_id, ())):
            if await signed_in(self._session_of.get(sink)):
                await sink.send(frame)
                told += 1
            else:
                self.leave(person_id, sink)
        return told

    def start(self, person_id: int, sink: Sink, run: Callable[[LiveAnswer], Awaitable[None]]) -> bool:
        """Start the person's answer (``run`` emits its frames); False when one is already being written."""
        if self.running(person_id) is not None:
            return False
        live = LiveAnswer(sinks={sink})
        self._by_person[person_id] = live

        async def whole() -> None:
            try:
                await run(live)
            finally:
                if self._by_person.get(person_id) is live:
                    del self._by_person[person_id]

        live.task = asyncio.create_task(whole(), name=f"web-answer-{person_id}")
        return True

    async def stop(self, person_id: int) -> None:
        """Stop the person's answer in progress (what was said is kept as partial)."""
        live = self.running(person_id)
        if live is not None and live.task is not None:
            live.task.cancel()
            try:
                await live.task
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise

    async def close(self) -> None:
        """At shutdown: stop every answer in progress (each is stored as partial)."""
        for person_id in list(self._by_person):
            await self.stop(person_id)
