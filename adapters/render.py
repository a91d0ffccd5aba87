"""One renderer for every platform: placeholder, throttled edits, overflow into more messages.

The renderer consumes the core's event stream for one answer and keeps a
platform message (or several) showing it.  It posts a placeholder at once,
edits it as soon as the first text exists and then as often as the platform's
budget allows, moves on to a new message when the text outgrows one, and
finishes with the exact answer (or the partial answer and a short note).

It is three parts: what the messages should show (:mod:`adapters.render_layout`,
pure), when they change (:mod:`adapters.render_schedule`, on the budget's clock)
and the platform calls that make them so (:mod:`adapters.render_calls`, through
:mod:`adapters.budgeted_call`).  A platform plugs in through
:class:`adapters.surface.Surface`: its limits, its rate windows and its calls.
Granting calls fairly across conversations is :mod:`adapters.budget`'s.
Posting a finished text unprompted, and closing an answer a restart cut off,
are :mod:`adapters.delivery`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from dataclasses import dataclass

from adapters.answer_renderer import STOPPED_NOTE, AnswerRenderer, PartsRecorder
from adapters.budget import Reservation
from adapters.budgeted_call import ONCE, RETRY, RetryPolicy
from adapters.first_word import keep_alive
from adapters.rate_window import Priority
from adapters.render_calls import ShownParts
from adapters.render_layout import AnswerState, Layout, Part, Planned
from adapters.render_schedule import FINAL_EDIT_WAIT, EditSchedule, slot_unless
from adapters.surface import Surface
from core.clock import Clock, Sleep, system_clock
from core.types import (
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

__all__ = ["FINAL_EDIT_WAIT", "STOPPED_NOTE", "AnswerRenderer", "PartsRecorder", "RenderStats", "StreamRenderer"]


@dataclass
class RenderStats:
    """What happened while rendering one answer (times on the budget's clock), for logs and benchmarks."""

    placeholder_at: float | None = None
    first_text_at: float | None = None
    final_at: float | None = None
    edits: int = 0
    posts: int = 0
    rate_limited: int = 0


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
        """``clock`` and ``sleep`` time the wait for the first word; edits keep the budget's time."""
        super().__init__(surface, surface.budget, record_parts=record_parts)
        self.clock = clock
        self.sleep = sleep
        self.still_thinking = False
        self.limits = surface.limits
        self.layout = Layout(surface)
        self.schedule = EditSchedule(surface.budget.pace, surface.routine_interval)
        self.shown = ShownParts(surface, self.calls, on_posted=self._posted)
        self.stats = RenderStats()
        self.status = ""
        self._placeholder: asyncio.Task[None] | None = None
        self._reservation: Reservation | None = None
        self._urgent = asyncio.Event()  # a new status line: show it without waiting for the routine interval

    @property
    def parts(self) -> list[str]:
        """The platform ids of the messages showing the answer, in order."""
        return self.shown.ids()

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
            self.stats.posts, self.stats.edits = self.shown.posts, self.shown.edits
            self.stats.rate_limited = self.calls.rate_limited
        return self.stats

    def complete_texts(self, text: str) -> list[str]:
        """The messages, as the platform will show them, that `text` takes once finished."""
        self.text = text
        return [planned.text for planned in self._layout(final=True)]

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
        layout = self._layout(final=True)
        if over_shown:
            self.shown.adopt([Part(m, p.text, p.bare, p.upto) for m, p in zip(over, layout, strict=False)])
        else:
            self.shown.adopt([Part.unknown(m) for m in over])  # unknown: rewrite every part
        await self._sync(final=True)
        return len(layout)

    async def _finish(self) -> None:
        assert self._placeholder is not None
        await self._placeholder
        await self._finish_visibly()

    async def _show_buttons(self) -> None:
        """Put the buttons offered during the turn under the answer's last message (where the surface can)."""
        if self.buttons and not await self.shown.show_buttons(self.buttons):
            log.warning("could not show buttons under answer %s", self.answer_id)

    def _posted(self, ids: list[str]) -> None:
        self._visible.set()
        self._record_soon(ids)

    def _state(self) -> AnswerState:
        return AnswerState(self.text, self.note, self.status, self.still_thinking)

    def _layout(self, final: bool) -> list[Planned]:
        return self.layout.messages(self._state(), final=final)

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
                self._record_soon(self.parts)
            return
        elif isinstance(event, TurnError | Refused):
            self.note = event.message
        elif isinstance(event, TurnDone):
            return
        elif isinstance(event, ButtonsOffered):
            self.buttons.extend(event.buttons)
            return
        self._changed.set()

    # -- the loops ---------------------------------------------------------------------------

    async def _post_placeholder(self) -> None:
        crowded = self.budget.busy(self.surface.windows("edit"))
        wait = self.schedule.first_text_wait(crowded=crowded, platform_wait=self.limits.first_text_wait)
        if wait > 0:
            # Crowded (or edits are scarce): wait a moment for the first text and post it as the
            # message itself, which costs one call where a placeholder and its first edit cost two.
            await self.schedule.until(self._has_something, self._changed, wait)
        # The placeholder waits behind first texts; when text comes meanwhile, the text is posted instead.
        windows = self.surface.windows("post")
        if not self._has_something() and await slot_unless(self.budget, windows, self._has_something, self._changed):
            await self.shown.post(Planned(self.limits.placeholder, "", 0), Priority.FEEDBACK, granted=True)
        elif self._finished.is_set():
            return  # the final text is posted as the message itself
        else:
            await self.shown.post(self._layout(final=False)[0], Priority.FIRST)
            if self.text:
                self.stats.first_text_at = self.schedule.now()
        self.stats.placeholder_at = self.schedule.now()

    def _has_something(self) -> bool:
        return bool(self.text or self.status or self._finished.is_set())

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
                await self.schedule.routine_turn((self._finished, self._urgent))
                if self._finished.is_set():
                    return
            urgent = self._urgent.is_set()
            self._urgent.clear()
            first = self.stats.first_text_at is None or urgent
            if not await self._sync(final=False, priority=Priority.FIRST if first else Priority.ROUTINE):
                return
            self.schedule.routine_done()

    async def _finish_visibly(self) -> None:
        """The final text, by editing; or, when the edit budget cannot serve it in time, as new messages.

        Where the platform allows (``SurfaceLimits.repost_final``), a final edit whose slot is far
        off, or that was refused, is not waited for: the final text is posted anew and the stale
        message deleted.  Otherwise new messages continue the answer from where the visible text
        stops (at a word or line), and the message that stopped there is tidied later to show
        just its share without the streaming marker: never a stale fragment beside a repeat.
        """
        repost = self.limits.repost_final > 0
        if repost and self._repost_planned():
            await self._repost_final()
            return
        wait, deadline = self.schedule.final_deadline(reserved=self._reservation is not None)
        try:
            # Only the wait for the budget is bounded: a call under way is never cut off, since
            # the platform may carry it out anyway (and the answer would then show twice).
            await self._sync(final=True, deadline=deadline, policy=ONCE if repost else RETRY)
            if repost and self.shown.first_stale(self._layout(final=True)) < len(self.shown.parts):
                await self._repost_final()  # the final edit was refused: post it anew rather than wait
            return
        except TimeoutError:
            log.warning("no edit slot for the final text within %.0fs; continuing in new messages", wait)
        await self._continue_below()

    def _repost_planned(self) -> bool:
        """Whether the final text is better posted anew: an edit is needed and its slot is far off."""
        patience = self.limits.repost_final
        layout = self._layout(final=True)
        if self.shown.first_stale(layout) >= len(self.shown.parts):
            return False  # no message to change: posts only
        edit = self.budget.eta(self.surface.windows("edit"), Priority.FINAL, reservation=self._reservation)
        return edit > patience and self.budget.eta(self.surface.windows("delete"), Priority.FINAL) < edit

    async def _repost_final(self) -> None:
        """Post the final text from the first stale message on, then delete the stale ones (a budget of their own)."""
        log.info("the edit budget is crowded; posting the final text anew")
        stale = await self.shown.repost(self._layout(final=True))
        self.stats.final_at = self.schedule.now()
        self._record_soon(self.parts)
        for message_id in stale:
            self.budget.defer(self.shown.tidy(message_id, None, Priority.FINAL))

    async def _continue_below(self) -> None:
        layout = self._layout(final=True)
        first_stale = self.shown.first_stale(layout)
        if first_stale >= len(self.shown.parts):
            await self._sync(final=True)  # only new parts are missing: posts, no edits needed
            return
        kept, rest, keep_upto = self.layout.cut_short(self.text, self.shown.parts, first_stale, layout)
        stale = self.shown.cut_from(first_stale)
        tidy: list[tuple[str, str | None]] = [(m, None) for m in stale]
        if kept:
            # The stale message keeps its share (tidied below); new messages carry the rest.
            tidy[0] = (stale[0], kept)
            self.shown.adopt([*self.shown.parts, Part(stale[0], kept, kept, keep_upto)])
        for text in self.layout.continuation(rest, self.note):
            if not await self.shown.post(Planned(text, text, len(self.text)), Priority.FIRST):
                break
        self.stats.final_at = self.schedule.now()
        self._record_soon(self.parts)
        for message_id, text in tidy:
            self.budget.defer(self.shown.tidy(message_id, text))

    async def _sync(
        self,
        *,
        final: bool,
        priority: Priority = Priority.FINAL,
        deadline: float | None = None,
        policy: RetryPolicy = RETRY,
    ) -> bool:
        """Make the platform show the current state; returns False when the writer should stop.

        With a ``deadline``, raises :class:`TimeoutError` when a call could not get its
        budget slot by then (nothing was sent for that call).
        """
        done = await self.shown.sync(
            self._layout(final),
            final=final,
            priority=priority,
            reservation=self._reservation,
            deadline=deadline,
            policy=policy,
            stop=lambda: self._finished.is_set() and not final,  # the final sync takes over
        )
        if not done and self._finished.is_set() and not final:
            return False
        if self.text and self.stats.first_text_at is None:
            self.stats.first_text_at = self.schedule.now()
        if final:
            self.stats.final_at = self.schedule.now()
        return True
