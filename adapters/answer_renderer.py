"""What every way of showing an answer shares: the event loop, files beside the text, the record of parts.

:class:`AnswerRenderer` reads the core's event stream for one answer while a
writer keeps the platform in step, uploads files in order beside the text,
records which platform messages show the answer, and always finishes
visibly.  The placeholder renderer (:mod:`adapters.render`) and Slack's native
streaming (:mod:`adapters.slack.native_stream`) build on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from adapters.budget import RateBudget
from adapters.budgeted_call import SENT_ONCE, BudgetedCalls
from adapters.rate_window import Priority
from adapters.surface import Surface
from core.buttons import Button
from core.types import AnswerComplete, OutgoingFile, TextDelta, TurnError, TurnEvent

log = logging.getLogger(__name__)

STOPPED_NOTE = "This answer was cut off because the assistant was shutting down."

PartsRecorder = Callable[[int, list[str]], Awaitable[None]]


class AnswerRenderer:
    """What every way of showing an answer shares.

    It reads the core's event stream while a writer keeps the platform in step,
    uploads files in order beside the text, records where the answer is shown,
    and always finishes visibly: after an unexpected error with a short note,
    and on shutdown with a note that the answer was cut off.  Subclasses say
    how events change the state (``_apply``), how the writer follows it
    (``_write_loop``) and how the answer is closed (``_finish``).
    """

    def __init__(self, surface: Surface, budget: RateBudget, *, record_parts: PartsRecorder | None = None) -> None:
        self.surface = surface
        self.budget = budget
        self.calls = BudgetedCalls(budget)
        self.record_parts = record_parts
        self.text = ""
        self.note = ""
        self.answer_id: int | None = None
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._uploads: asyncio.Queue[OutgoingFile | None] = asyncio.Queue()
        # Set once the answer has a message on the platform: files are uploaded after it, never above it.
        self._visible = asyncio.Event()
        self._to_record: list[str] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self.buttons: list[Button] = []  # offered during the turn, shown under the answer once it is final

    def _apply(self, event: TurnEvent) -> None:
        raise NotImplementedError

    async def _write_loop(self) -> None:
        raise NotImplementedError

    async def _finish(self) -> None:
        raise NotImplementedError

    async def _drive(self, events: AsyncIterator[TurnEvent]) -> None:
        """Consume ``events`` to the end with the writer and the uploader beside, then finish.

        At :class:`AnswerComplete` the final text goes out at once, while the core
        still stores the answer; files and the end of the stream follow.
        """
        writer = asyncio.create_task(self._write_loop())
        uploader = asyncio.create_task(self._upload_loop())
        closing: asyncio.Task[None] | None = None
        try:
            async with aclosing(events) as stream:
                async for event in stream:
                    if closing is not None and isinstance(event, TurnError | TextDelta):
                        # The final text is out; storing it failed after all (the core logged why).
                        log.warning("answer %s changed after its final text was shown: %s", self.answer_id, event)
                        continue
                    self._apply(event)
                    if isinstance(event, AnswerComplete) and closing is None:
                        closing = asyncio.create_task(self._close_text(writer))
        except asyncio.CancelledError:
            # Shutting down: close the message off honestly before going.
            self.note = self.note if closing is not None else STOPPED_NOTE
            raise
        except Exception as exc:  # noqa: BLE001 - the core failed unexpectedly; say so, keep the text
            log.exception("answer stream failed")
            if closing is None:
                self.note = f"Something went wrong while answering ({type(exc).__name__})."
        finally:
            await (closing if closing is not None else self._close_text(writer))
            await self._uploads.put(None)
            await uploader
            await self._records_written()

    async def _close_text(self, writer: asyncio.Task[None]) -> None:
        """Stop the live updates and show the final text (and any note)."""
        self._finished.set()
        self._changed.set()
        if not self.calls.in_flight:
            writer.cancel()  # it is only waiting (for text, its interval or its budget)
        try:
            await writer
        except asyncio.CancelledError:
            pass
        except Exception:  # noqa: BLE001 - the final text must still go out
            log.exception("the live updates of an answer failed")
        try:
            await self._finish()
            await self._show_buttons()
        finally:
            self._visible.set()  # the answer is shown (or never will be): files may follow

    async def _show_buttons(self) -> None:
        """Put the buttons offered during the turn under the answer (renderers that can)."""

    async def _upload_loop(self) -> None:
        while (file := await self._uploads.get()) is not None:
            await self._visible.wait()
            if not await self.upload(file):
                self.note = self.note or f"I could not upload {file.filename}."
                self._changed.set()

    @property
    def last_error(self) -> Exception | None:
        """The platform's last refusal, for callers that must report it."""
        return self.calls.last_error

    async def upload(self, file: OutgoingFile) -> bool:
        """One upload within the budget, tried again after a rate limit (a refused call created nothing).

        False when it was not posted; `last_error` then says why.
        """
        try:
            await self.calls.call(
                self.surface.windows("upload"),
                Priority.FIRST,
                lambda: self.surface.upload(file),
                what=f"upload of {file.filename}",
                policy=SENT_ONCE,
            )
        except Exception as exc:  # noqa: BLE001 - one failed upload must not end the answer
            log.warning("upload of %s failed: %s", file.filename, exc)
            return False
        return True

    def _record_soon(self, parts: list[str]) -> None:
        """Record the answer's platform messages without holding up the stream.

        One writer per answer, always writing the newest list: a busy database
        delays the bookkeeping, never the text the user is waiting for.
        """
        self._to_record = list(parts)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.get_running_loop().create_task(self._record_pending())

    async def _record_pending(self) -> None:
        while self._to_record is not None:
            parts, self._to_record = self._to_record, None
            await self._record(parts)

    async def _records_written(self) -> None:
        """Wait until the newest list of platform messages is stored."""
        if self._recorder is not None:
            await asyncio.shield(self._recorder)

    async def _record(self, parts: list[str]) -> None:
        if self.record_parts is None or self.answer_id is None:
            return
        try:
            await self.record_parts(self.answer_id, parts)
        except Exception:  # noqa: BLE001 - bookkeeping must not break the answer
            log.exception("could not record the platform messages of answer %s", self.answer_id)
