"""One renderer for every platform: placeholder, throttled edits, overflow into more messages.

The renderer consumes the core's event stream for one answer and keeps a
platform message (or several) showing it.  It posts a placeholder at once,
edits it as soon as the first text exists and then as often as the platform's
budget allows, moves on to a new message when the text outgrows one, and
finishes with the exact answer (or the partial answer and a short note).

A platform plugs in through :class:`adapters.surface.Surface`: its limits, its
rate windows and four calls (post, edit, upload, typing).  Which windows each
call counts against, and how often one answer may routinely be edited, are the
platform's to say; granting calls fairly across conversations is
:mod:`adapters.budget`'s.  Posting a finished text unprompted, and closing an
answer a restart cut off, are :mod:`adapters.delivery`'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass

from adapters.budget import RateBudget, Reservation
from adapters.first_word import STILL_THINKING, keep_alive
from adapters.rate_window import Priority
from adapters.surface import ButtonSurface, DeliveryError, RateLimited, Surface
from adapters.text import Piece, Splitter, clip, closing_fence, last_break, open_fence
from core.buttons import Button
from core.clock import Clock, Sleep, system_clock
from core.types import (
    AnswerComplete,
    ButtonsOffered,
    OutgoingFile,
    Refused,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)

log = logging.getLogger(__name__)

STOPPED_NOTE = "This answer was cut off because the assistant was shutting down."
# How long the final edit may wait for the platform's budget before the rest of the
# answer is posted as new messages instead (continuing from where the visible text
# stops): longer when the answer holds a reserved slot, short when it could not get one.
FINAL_EDIT_WAIT = 4.0
FINAL_EDIT_WAIT_OVERLOADED = 2.0
# When the platform's budget is crowded, a placeholder would cost a post now and an
# edit for the first text later: the renderer waits this long for the first text and
# posts it as the message itself (a placeholder still comes when the model is slower).
FIRST_TEXT_WAIT = 1.5
# A message left showing a streaming marker is tidied (marker taken off, or deleted
# when it shows no answer text) as the budget allows, tried again after rate limits.
TIDY_ATTEMPTS = 30
STATUS_MAX_CHARS = 120  # fits the room every message keeps free (SurfaceLimits.reserve)
# A call refused with a rate limit is tried again up to this many times (it created nothing).
RATE_LIMIT_RETRIES = 10


@dataclass
class RenderStats:
    """What happened while rendering one answer (``perf_counter`` times), for logs and benchmarks."""

    placeholder_at: float | None = None
    first_text_at: float | None = None
    final_at: float | None = None
    edits: int = 0
    posts: int = 0
    rate_limited: int = 0


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
        self.record_parts = record_parts
        self.text = ""
        self.note = ""
        self.answer_id: int | None = None
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._uploads: asyncio.Queue[OutgoingFile | None] = asyncio.Queue()
        # Set once the answer has a message on the platform: files are uploaded after it, never above it.
        self._visible = asyncio.Event()
        self._in_flight = False  # a platform call of the writer is under way
        self._to_record: list[str] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None  # the platform's last refusal, for callers that must report it
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
        if not self._in_flight:
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

    async def upload(self, file: OutgoingFile) -> bool:
        """One upload within the budget, tried again after a rate limit (a refused call created nothing).

        False when it was not posted; `last_error` then says why.
        """
        windows = self.surface.windows("upload")
        for _attempt in range(RATE_LIMIT_RETRIES):
            await self.budget.acquire(windows, Priority.FIRST)
            try:
                await self.surface.upload(file)
                return True
            except RateLimited as exc:
                self.last_error = exc
                log.warning("upload of %s was rate limited; retrying in %.2fs", file.filename, exc.retry_after)
                self.budget.penalize(windows, exc.retry_after)
            except Exception as exc:  # noqa: BLE001 - one failed upload must not end the answer
                self.last_error = exc
                log.warning("upload of %s failed: %s", file.filename, exc)
                return False
        return False

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


class StreamRenderer(AnswerRenderer):
    """Renders one answer into a placeholder it keeps editing, continuing in new messages when needed."""

    def __init__(
        self,
        surface: Surface,
        *,
        record_parts: PartsRecorder | None = None,
        clock: Clock = system_clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(surface, surface.budget, record_parts=record_parts)
        # Time the wait for the first word (typing kept alive, "still thinking…").
        self.clock = clock
        self.sleep = sleep
        self.still_thinking = False
        self.limits = surface.limits
        self.splitter = Splitter(
            self.limits.max_chars, reserve=self.limits.reserve, measure=lambda md: len(surface.format_text(md))
        )
        self.stats = RenderStats()
        self.status = ""
        self.parts: list[str] = []  # platform message ids
        self.shown: list[str] = []  # what each of them shows now
        self.bare: list[str] = []  # ... without the streaming marker and status line
        self.upto: list[int] = []  # ... up to which character of ``text``
        self._placeholder: asyncio.Task[None] | None = None
        self._reservation: Reservation | None = None
        self._last_routine = 0.0
        self._urgent = asyncio.Event()  # a new status line: show it without waiting for the routine interval

    async def render(self, events: AsyncIterator[TurnEvent]) -> RenderStats:
        """Consume ``events`` to the end, keeping the platform message(s) in step. Returns the stats."""
        self._reservation = self.budget.reserve(self.surface.windows("edit"))
        if self._reservation is None:
            # More answers at once than the edit budget can finish: this one skips
            # routine edits and may be posted anew at the end (see _finish_visibly).
            log.warning("edit budget over-subscribed; this answer will be shown when complete")
        self._placeholder = asyncio.create_task(self._post_placeholder())
        typing = asyncio.create_task(self._keep_typing())
        try:
            await self._drive(events)
        finally:
            typing.cancel()
            self.budget.release(self._reservation)
        return self.stats

    def complete_texts(self, text: str) -> list[str]:
        """The messages, as the platform will show them, that `text` takes once finished."""
        self.text = text
        return self._desired(final=True)

    async def show_complete(
        self, text: str, *, note: str = "", over: Sequence[str] = (), over_shown: bool = False
    ) -> int:
        """Show `text` (and `note`) as a finished answer in one go, outside a live answer.

        `over` are platform messages that show some earlier state of it (an answer cut off by
        a restart): each is rewritten, the rest posted; with `over_shown` they already show
        their final text (found posted by an earlier try) and are left as they are. Returns
        how many messages the text needs; `parts` holds the ids of those now showing it
        (fewer when the platform refused one: `last_error` says why).
        """
        self.text = text
        self.note = note
        self.parts = list(over)
        if over_shown:
            layout = self._layout(final=True)[: len(self.parts)]
            self.shown = [shown for shown, _, _ in layout]
            self.bare = [bare for _, bare, _ in layout]
            self.upto = [upto for _, _, upto in layout]
        else:
            self.shown = ["" for _ in self.parts]  # unknown: rewrite every part
            self.bare = ["" for _ in self.parts]
            self.upto = [0 for _ in self.parts]
        needed = len(self._desired(final=True))
        await self._sync(final=True)
        return needed

    async def _finish(self) -> None:
        assert self._placeholder is not None
        await self._placeholder
        await self._finish_visibly()

    async def _show_buttons(self) -> None:
        """Put the buttons offered during the turn under the answer's last message (where the surface can)."""
        if not self.buttons or not self.parts or not isinstance(self.surface, ButtonSurface):
            return
        try:
            await self.budget.acquire(self.surface.windows("edit"), Priority.FINAL)
            await self.surface.show_buttons(self.parts[-1], self.shown[-1], self.buttons)
        except Exception as exc:  # noqa: BLE001 - the answer stands without them; each has a typed twin
            log.warning("could not show buttons under answer %s: %s", self.answer_id, exc)

    # -- events ------------------------------------------------------------------------------

    def _apply(self, event: TurnEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, StatusUpdate):
            if event.text and event.text != self.status:
                self._urgent.set()
            self.status = event.text
        elif isinstance(event, OutgoingFile):
            self._uploads.put_nowait(event)
            return
        elif isinstance(event, TurnStarted):
            self.answer_id = event.answer_message_id
            if self.parts:
                self._record_soon(list(self.parts))
            return
        elif isinstance(event, TurnError):
            self.note = event.message
        elif isinstance(event, Refused):
            self.note = event.message
        elif isinstance(event, TurnDone):
            return
        elif isinstance(event, ButtonsOffered):
            self.buttons.extend(event.buttons)
            return
        self._changed.set()

    # -- the loops ---------------------------------------------------------------------------

    async def _post_placeholder(self) -> None:
        wait = FIRST_TEXT_WAIT if self.budget.busy(self.surface.windows("edit")) else self.limits.first_text_wait
        if wait > 0:
            # Crowded (or edits are scarce): wait a moment for the first text and post it as the
            # message itself, which costs one call where a placeholder and its first edit cost two.
            deadline = time.monotonic() + wait
            while not self._has_something() and time.monotonic() < deadline:
                self._changed.clear()
                await _wait_any((self._changed, self._finished, self._urgent), deadline - time.monotonic())
        # The placeholder waits behind first texts; when text comes meanwhile, the text is posted instead.
        if not self._has_something() and await self._feedback_slot():
            await self._call("post", Priority.FEEDBACK, self.limits.placeholder, bare="", upto=0, granted=True)
        elif self._finished.is_set():
            return  # the final text is posted as the message itself
        else:
            [(text, bare, upto), *_] = self._layout(final=False)
            await self._call("post", Priority.FIRST, text, bare=bare, upto=upto)
            if self.text:
                self.stats.first_text_at = time.perf_counter()
        self.stats.placeholder_at = time.perf_counter()

    def _has_something(self) -> bool:
        return bool(self.text or self.status or self._finished.is_set())

    async def _feedback_slot(self) -> bool:
        """Wait for a placeholder's slot; False (and no slot taken) when there is something to show first."""
        grant = asyncio.ensure_future(self.budget.acquire(self.surface.windows("post"), Priority.FEEDBACK))
        while not grant.done():
            if self._has_something():
                grant.cancel()
                with suppress(asyncio.CancelledError):
                    await grant
                return not grant.cancelled()  # granted just before the cancel: the slot is ours
            self._changed.clear()
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({grant, changed}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                grant.cancel()
                raise
            finally:
                changed.cancel()
        return True

    async def _typing(self) -> None:
        # Best effort: skipped when the budget is busy, because the placeholder already shows we are on it.
        if self.budget.try_acquire(self.surface.windows("typing"), Priority.BACKGROUND):
            with suppress(Exception):
                await self.surface.typing()

    async def _keep_typing(self) -> None:
        await keep_alive(
            self.clock,
            self.sleep,
            typing=self._typing,
            waiting=lambda: not self.text and not self._finished.is_set(),
            still_thinking=self._say_still_thinking,
        )

    def _say_still_thinking(self) -> None:
        self.still_thinking = True
        self._urgent.set()
        self._changed.set()

    async def _write_loop(self) -> None:
        assert self._placeholder is not None
        # Shielded: cancelling the writer must not cancel the placeholder's post.
        await asyncio.shield(self._placeholder)
        if self._reservation is None:
            return  # over-subscribed: no routine edits, only the final text
        while not self._finished.is_set():
            await self._changed.wait()
            self._changed.clear()
            if self._finished.is_set():
                return
            if self.text and self.stats.first_text_at is not None and not self._urgent.is_set():
                # Routine update: leave the platform's interval since the last one (a new status cuts it short).
                wait = self._last_routine + self.surface.routine_interval() - time.monotonic()
                if wait > 0:
                    await _wait_any((self._finished, self._urgent), wait)
                    if self._finished.is_set():
                        return
            urgent = self._urgent.is_set()
            self._urgent.clear()
            first = self.stats.first_text_at is None or urgent
            if not await self._sync(final=False, priority=Priority.FIRST if first else Priority.ROUTINE):
                return
            self._last_routine = time.monotonic()

    async def _finish_visibly(self) -> None:
        """The final text, by editing; or, when the edit budget cannot serve it in time, as new messages.

        New messages continue the answer from where the visible text stops (at a
        word or line), and the message that stopped there is tidied later to show
        just its share without the streaming marker: every message is a true part
        of the answer, never a stale fragment beside a repeat.
        """
        wait = FINAL_EDIT_WAIT if self._reservation is not None else FINAL_EDIT_WAIT_OVERLOADED
        try:
            # Only the wait for the budget is bounded: a call under way is never cut off, since
            # the platform may carry it out anyway (and the answer would then show twice).
            await self._sync(final=True, deadline=time.monotonic() + wait)
            return
        except TimeoutError:
            log.warning("no edit slot for the final text within %.0fs; continuing in new messages", wait)
        layout = self._layout(final=True)
        first_stale = next(
            (i for i, (text, _, _) in enumerate(layout) if i >= len(self.parts) or self.shown[i] != text),
            len(layout),
        )
        if first_stale >= len(self.parts):
            await self._sync(final=True)  # only new parts are missing: posts, no edits needed
            return
        start = layout[first_stale - 1][2] if first_stale else 0
        keep_upto = last_break(self.text, start, self.upto[first_stale])
        keep = self.text[start:keep_upto]
        stale = list(self.parts[first_stale:])
        del self.parts[first_stale:], self.shown[first_stale:], self.bare[first_stale:], self.upto[first_stale:]
        if keep.strip():
            # The stale message keeps its share (tidied below); new messages carry the rest.
            rest = open_fence(self.text[:keep_upto]) + self.text[keep_upto:]
            kept_text = self.surface.format_text(open_fence(self.text[:start]) + keep) + closing_fence(
                self.text[:keep_upto]
            )
            tidy = [(stale[0], kept_text), *((m, None) for m in stale[1:])]
            self.parts.append(stale[0])
            self.shown.append(kept_text)
            self.bare.append(kept_text)
            self.upto.append(keep_upto)
        else:
            rest = open_fence(self.text[:start]) + self.text[start:]
            tidy = [(m, None) for m in stale]
        for text in self._continuation(rest):
            if not await self._call("post", Priority.FIRST, text):
                break
        self.stats.final_at = time.perf_counter()
        self._record_soon(list(self.parts))
        for message_id, text in tidy:
            self.budget.defer(self._tidy(message_id, text))

    def _continuation(self, rest: str) -> list[str]:
        """The rest of the answer (and the note) as new messages."""
        if not rest.strip():
            rest = ""
        splitter = Splitter(
            self.limits.max_chars, reserve=self.limits.reserve, measure=lambda md: len(self.surface.format_text(md))
        )
        texts = (
            [self.surface.format_text(p.opening + p.body) + p.closing for p in splitter.pieces(rest)] if rest else []
        )
        note = self.surface.format_note(clip(self.note, self.limits.max_chars // 2)) if self.note else ""
        if note and texts and len(texts[-1]) + 2 + len(note) <= self.limits.max_chars:
            texts[-1] = f"{texts[-1]}\n\n{note}"
        elif note:
            texts.append(note)
        return texts

    async def _tidy(self, message_id: str, text: str | None) -> None:
        """Show ``text`` in a message left with a streaming marker, or delete it (``None``): whatever it takes."""
        action = "edit" if text is not None else "delete"
        windows = self.surface.windows("edit")
        for _attempt in range(TIDY_ATTEMPTS):
            await self.budget.acquire(windows, Priority.ROUTINE)
            try:
                if text is not None:
                    await self.surface.edit(message_id, text)
                else:
                    await self.surface.delete(message_id)
                return
            except RateLimited as exc:
                log.info("tidying message %s was rate limited; again in %.1fs", message_id, exc.retry_after)
                self.budget.penalize(windows, exc.retry_after)
            except DeliveryError as exc:
                if exc.gone or not exc.retryable:
                    log.info("could not %s message %s: %s", action, message_id, exc)
                    return
                await asyncio.sleep(1.0)
            except Exception as exc:  # noqa: BLE001 - cosmetic; the answer itself is delivered
                log.info("could not %s message %s: %s: %s", action, message_id, type(exc).__name__, exc)
                await asyncio.sleep(1.0)
        log.warning("gave up tidying message %s", message_id)

    # -- making the platform match ---------------------------------------------------------------

    def _desired(self, final: bool) -> list[str]:
        return [text for text, _, _ in self._layout(final)]

    def _layout(self, final: bool) -> list[tuple[str, str, int]]:
        """Each message's text, its text without marker and status, and where in ``text`` it ends."""
        pieces: list[Piece] = self.splitter.pieces(self.text)
        bare = [self.surface.format_text(p.opening + p.body) + p.closing for p in pieces]
        ends: list[int] = []
        end = 0
        for piece in pieces:
            end += len(piece.body)
            ends.append(end)
        if not final:
            rendered = list(bare)
            last = rendered[-1] if rendered else ""
            last = (last + self.limits.marker) if last else self.limits.placeholder
            if self.status:
                last += "\n" + self.surface.format_status(clip(self.status, STATUS_MAX_CHARS))
            elif self.still_thinking and not self.text:
                last += "\n" + self.surface.format_status(STILL_THINKING)
            rendered[-1:] = [last]
            return list(zip(rendered, bare or [""], ends or [0], strict=True))
        return [
            (text, text, ends[i] if i < len(ends) else len(self.text)) for i, text in enumerate(self._final_texts(bare))
        ]

    def _final_texts(self, bare: list[str]) -> list[str]:
        rendered = list(bare)
        last = rendered[-1] if rendered else ""
        note = self.surface.format_note(clip(self.note, self.limits.max_chars // 2)) if self.note else ""
        if not note and not last.strip():
            note = self.surface.format_note("(no answer)")
        if not note:
            rendered[-1:] = [last]
        elif not last.strip():
            rendered[-1:] = [note]
        elif len(last) + 2 + len(note) <= self.limits.max_chars:
            rendered[-1:] = [f"{last}\n\n{note}"]
        else:
            rendered[-1:] = [last, note]  # no room left: the note gets a message of its own
        return rendered

    async def _sync(self, *, final: bool, priority: Priority = Priority.FINAL, deadline: float | None = None) -> bool:
        """Make the platform show the current state; returns False when the writer should stop.

        With a ``deadline``, raises :class:`TimeoutError` when a call could not get its
        budget slot by then (nothing was sent for that call).
        """
        desired = self._layout(final)
        index = 0
        while index < len(desired):
            if self._finished.is_set() and not final:
                return False  # the final sync takes over
            text, bare, upto = desired[index]
            if index < len(self.parts):
                if self.shown[index] != text:
                    sealed = index < len(desired) - 1
                    call_priority = Priority.FIRST if sealed and not final else priority
                    await self._call("edit", call_priority, text, index=index, bare=bare, upto=upto, deadline=deadline)
                    if index >= len(self.parts):
                        continue  # the message was deleted under us: post this part anew
            elif not await self._call("post", Priority.FIRST, text, bare=bare, upto=upto, deadline=deadline):
                break  # the platform refuses to take it; logged, and the core keeps the text
            index += 1
        if self.text and self.stats.first_text_at is None:
            self.stats.first_text_at = time.perf_counter()
        if final:
            self.stats.final_at = time.perf_counter()
        return True

    async def _call(
        self,
        action: str,
        priority: Priority,
        text: str,
        *,
        index: int | None = None,
        bare: str | None = None,
        upto: int | None = None,
        granted: bool = False,
        deadline: float | None = None,
    ) -> bool:
        """One post or edit within the budget; retried after a rate limit or a failure. Returns success.

        A call refused with a rate limit created nothing, so it is tried again
        more often (up to :data:`RATE_LIMIT_RETRIES`) than one that failed
        (three attempts), and never after a permanent refusal.
        """
        windows = self.surface.windows(action)
        failures = refusals = 0
        while True:
            reservation = self._reservation if priority == Priority.FINAL else None
            if not granted:
                acquire = self.budget.acquire(windows, priority, reservation=reservation)
                if deadline is None:
                    await acquire
                else:  # raises TimeoutError before anything is sent
                    await asyncio.wait_for(acquire, max(0.0, deadline - time.monotonic()))
            granted = False  # the slot given by the caller serves the first attempt only
            self._in_flight = True
            try:
                if action == "post":
                    message_id = await self.surface.post(text)
                    self._visible.set()
                    self.parts.append(message_id)
                    self.shown.append(text)
                    self.bare.append(text if bare is None else bare)
                    self.upto.append(len(self.text) if upto is None else upto)
                    self.stats.posts += 1
                    self._record_soon(list(self.parts))
                else:
                    assert index is not None
                    await self.surface.edit(self.parts[index], text)
                    self.shown[index] = text
                    self.bare[index] = text if bare is None else bare
                    self.upto[index] = len(self.text) if upto is None else upto
                    self.stats.edits += 1
                return True
            except RateLimited as exc:
                self.last_error = exc
                self.stats.rate_limited += 1
                refusals += 1
                if refusals >= RATE_LIMIT_RETRIES:
                    log.warning("%s was rate limited %d times; giving up", action, refusals)
                    return False
                log.warning("%s was rate limited; retrying in %.2fs", action, exc.retry_after)
                self.budget.penalize(windows, exc.retry_after)
            except DeliveryError as exc:
                self.last_error = exc
                if action == "edit" and exc.gone and index is not None:
                    log.warning("message %s is gone; posting the rest anew", self.parts[index])
                    del self.parts[index:], self.shown[index:], self.bare[index:], self.upto[index:]
                    return False
                failures += 1
                log.warning("%s failed (attempt %d): %s", action, failures, exc)
                if failures >= 3 or not exc.retryable:
                    return False
                await asyncio.sleep(0.5 * failures)
            except Exception as exc:  # noqa: BLE001 - a network failure the adapter did not map
                self.last_error = exc
                failures += 1
                log.warning("%s failed (attempt %d): %s: %s", action, failures, type(exc).__name__, exc)
                if failures >= 3:
                    return False
                await asyncio.sleep(0.5 * failures)
            finally:
                self._in_flight = False


async def _wait_any(events: Sequence[asyncio.Event], seconds: float) -> None:
    """Sleep ``seconds`` unless one of ``events`` is set first."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
