"""Native Slack streaming: chat.startStream, chat.appendStream, chat.stopStream.

An alternative to editing a placeholder, for apps that have it enabled.  The
three methods have their own tiers (start and stop about 20 a minute for the
workspace, append about 100), so each answer holds a stop slot from the start
(its final text is never stuck behind others) and takes its start slot before
it commits; when either is not to be had, the answer is rendered by the
placeholder renderer instead.  Appends are buffered: each answer appends at
most every ``Workspace.append_interval()`` seconds, whatever the model's pace.

Slack streams Markdown itself, so the model's text is sent as ``markdown_text``
without conversion.  A streamed message needs a thread: in a DM it is the
thread of the user's message.

Slack may allow fewer starts and stops at once than its tier says.  The stream
is only started with the first text, in one call; when Slack refuses it with a
rate limit, the budget learns from it and this answer is rendered by editing a
placeholder instead, at once, rather than waiting its turn.  A stop that cannot
be had in time leaves the rest to ordinary messages and closes the stream
later, so no message is left looking as if it were still being written.  A
start or an append whose answer the network lost is not sent again before the
thread is read back (:mod:`adapters.slack.readback`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from adapters.budget import Reservation
from adapters.rate_window import Priority, SlidingWindow
from adapters.render import FINAL_EDIT_WAIT, TIDY_ATTEMPTS, AnswerRenderer, PartsRecorder, StreamRenderer
from adapters.slack.read_ahead import read_to_first_text
from adapters.slack.readback import ThreadReadback
from adapters.slack.surface import NETWORK_ERRORS, SlackSurface, delivery_error, sent_once
from adapters.surface import DeliveryError, RateLimited
from adapters.text import Splitter
from core.types import OutgoingFile, Refused, StatusUpdate, TextDelta, TurnDone, TurnError, TurnEvent, TurnStarted

log = logging.getLogger(__name__)

# Slack refuses more than 12,000 characters of markdown_text in one streaming call.
CALL_MAX_CHARS = 10_000
_ATTEMPTS = 5


class NativeStreamRenderer(AnswerRenderer):
    """Renders one answer's event stream as a natively streamed Slack message."""

    def __init__(
        self,
        surface: SlackSurface,
        *,
        thread_ts: str,
        recipient_user_id: str = "",
        recipient_team_id: str = "",
        record_parts: PartsRecorder | None = None,
    ) -> None:
        self._note = ""
        self._fallback: StreamRenderer | None = None  # set before the base class assigns ``note``
        super().__init__(surface, surface.workspace.budget, record_parts=record_parts)
        self.workspace = surface.workspace
        self.client = surface.client
        self._once = sent_once(surface.client)  # appends are sent once: a retried one could show twice
        self.thread_ts = thread_ts
        self._readback = ThreadReadback(surface.client, surface.channel, thread_ts)  # what a lost call did
        self.recipient_user_id = recipient_user_id
        self.recipient_team_id = recipient_team_id
        self.sent = 0  # characters of ``text`` Slack has
        self._first_sent = 0  # characters the first start call carried (applied with the first events)
        self.ts: str | None = None
        self.broken = False  # the stream failed: the rest goes out as ordinary messages
        self._stop_slot: Reservation | None = None
        self._last_append = 0.0

    @property
    def note(self) -> str:
        """The line shown under the answer at the end (an error, the restart note)."""
        return self._fallback.note if self._fallback is not None else self._note

    @note.setter
    def note(self, value: str) -> None:
        self._note = value
        if self._fallback is not None:
            self._fallback.note = value

    async def render(self, events: AsyncIterator[TurnEvent]) -> None:
        """Consume ``events`` to the end, streaming the text into one Slack message."""
        stop_slot = self.budget.reserve((self.workspace.stream_stop,))
        if stop_slot is None or not self.budget.try_acquire((self.workspace.stream_start,), Priority.FIRST):
            self.budget.release(stop_slot)
            log.info("stream budget exhausted in %s; editing a placeholder instead", self.workspace.team_id)
            await self._render_with_placeholder(events)
            return
        self._stop_slot = stop_slot
        self.workspace.streaming_answers += 1
        try:
            first, replay = await read_to_first_text(events)
            if first and not await self._first_start(first):
                self.budget.release(stop_slot)
                self.workspace.streaming_answers -= 1
                stop_slot = None
                await self._render_with_placeholder(replay)
                return
            await self._drive(replay)
        finally:
            if stop_slot is not None:
                self.workspace.streaming_answers -= 1
                self.budget.release(stop_slot)

    async def _first_start(self, text: str) -> bool:
        """Start the stream with the first text in one call; False when Slack refused it (render otherwise)."""
        text = text[:CALL_MAX_CHARS]
        try:
            self.ts = await self._send_start(text)
        except SlackApiError as exc:
            error = delivery_error(exc)
            if isinstance(error, RateLimited):
                log.info("chat.startStream was rate limited; this answer edits a placeholder instead")
                self.budget.penalize((self.workspace.stream_start,), error.retry_after)
            else:
                log.warning("chat.startStream was refused (%s); this answer edits a placeholder instead", error)
            return False
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chat.startStream failed: %s; trying again", exc)
            return True  # the writer starts it (``ts`` is still unknown)
        self._first_sent = len(text)
        return True

    async def _send_start(self, text: str) -> str:
        """chat.startStream, sent once; returns the stream's ts.

        When the call failed on the network it may still have started the stream:
        that stream is looked for and adopted before the failure is raised.
        """
        since = time.time()
        try:
            self._in_flight = True
            response = await self._once.chat_startStream(
                channel=self.surface.channel,
                thread_ts=self.thread_ts,
                markdown_text=text or None,
                recipient_user_id=self.recipient_user_id or None,
                recipient_team_id=self.recipient_team_id or None,
            )
        except SlackApiError:
            raise  # Slack answered: it refused, nothing was started
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            started = await self._readback.started_stream(text, since)
            if started is None:
                raise
            return started
        finally:
            self._in_flight = False
        return str(response["ts"])

    async def _render_with_placeholder(self, events: AsyncIterator[TurnEvent]) -> None:
        self._fallback = StreamRenderer(self.surface, record_parts=self.record_parts)
        self._fallback.note = self._note
        self.workspace.editing_answers += 1
        try:
            await self._fallback.render(events)
        finally:
            self.workspace.editing_answers -= 1

    def _apply(self, event: TurnEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
            self.sent = max(self.sent, min(self._first_sent, len(self.text)))
            self._changed.set()
        elif isinstance(event, OutgoingFile):
            self._uploads.put_nowait(event)
        elif isinstance(event, TurnStarted):
            self.answer_id = event.answer_message_id
            if self.ts is not None:
                self._record_soon([self.ts])
        elif isinstance(event, TurnError | Refused):
            self.note = event.message
        elif isinstance(event, StatusUpdate | TurnDone):
            pass  # Slack shows its own progress while a message streams

    # -- the writer -------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while not self._finished.is_set():
            await self._changed.wait()
            self._changed.clear()
            if self._finished.is_set() or self.broken:
                return
            if self.ts is None:
                await self._start()  # the first text, at once: its slot is already ours
                continue
            if self.sent >= len(self.text):
                continue  # what the first start carried: nothing new to append yet
            wait = self._last_append + self.workspace.append_interval() - time.monotonic()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._finished.wait(), wait)
                    return
                except TimeoutError:
                    pass
            await self.budget.acquire((self.workspace.stream_append,), Priority.ROUTINE)
            if self._finished.is_set():
                return
            await self._append(self.text[self.sent : self.sent + CALL_MAX_CHARS])
            self._last_append = time.monotonic()
            if self.sent < len(self.text):
                self._changed.set()

    async def _start(self) -> None:
        """chat.startStream with everything so far (its start slot was taken when the answer began)."""
        text = self.text[:CALL_MAX_CHARS]
        for attempt in range(_ATTEMPTS):
            if attempt:
                await self.budget.acquire((self.workspace.stream_start,), Priority.FIRST)
            try:
                self.ts = await self._send_start(text)
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                if self._refused(exc, (self.workspace.stream_start,), "chat.startStream"):
                    return
                continue
            self.sent = len(text)
            self._record_soon([self.ts])
            return
        self.broken = True

    async def _append(self, chunk: str) -> None:
        if not chunk or self.ts is None:
            return
        try:
            self._in_flight = True
            await self._once.chat_appendStream(channel=self.surface.channel, ts=self.ts, markdown_text=chunk)
            self.sent += len(chunk)
        except SlackClientError as exc:
            self._refused(exc, (self.workspace.stream_append,), "chat.appendStream")
        except NETWORK_ERRORS as exc:
            # The append may have landed although its answer was lost: look before sending it again.
            landed = await self._landed(len(chunk))
            if landed:
                self.sent += len(chunk)
            elif landed is None:
                log.warning(
                    "chat.appendStream failed (%s) and its effect is unknown; the rest follows as messages", exc
                )
                self.broken = True
        finally:
            self._in_flight = False

    async def _landed(self, size: int) -> bool | None:
        """Whether the streamed message shows the next ``size`` characters: True, False, or None (unknown)."""
        assert self.ts is not None
        shown = await self._readback.shown_text(self.ts)
        if shown == self.text[: self.sent + size]:
            return True
        if shown == self.text[: self.sent]:
            return False
        return None

    def _refused(self, exc: Exception, windows: tuple[SlidingWindow, ...], method: str) -> bool:
        """Handle a failed call; returns True when the stream is broken for good."""
        if isinstance(exc, SlackApiError):
            error = delivery_error(exc)
            if isinstance(error, RateLimited):
                log.warning("%s was rate limited; waiting %.0fs", method, error.retry_after)
                self.budget.penalize(windows, error.retry_after)
                return False
            log.warning("%s was refused (%s); the rest of the answer goes out as messages", method, error)
            self.broken = True
            return True
        log.warning("%s failed: %s", method, exc)  # the network: worth another try
        return False

    # -- the end ------------------------------------------------------------------------

    async def _finish(self) -> None:
        stop_slot = self._stop_slot
        if self.ts is None and not self.broken:
            await self._start()
        if self.ts is not None and not self.broken:
            # Whatever the final call cannot carry goes in appends first.
            while len(self.text) - self.sent > CALL_MAX_CHARS and not self.broken:
                await self.budget.acquire((self.workspace.stream_append,), Priority.FIRST)
                before = self.sent
                await self._append(self.text[self.sent : self.sent + CALL_MAX_CHARS])
                if self.sent == before and not self.broken:
                    await asyncio.sleep(0.5)
            if not self.broken and await self._stop(stop_slot):
                return
        if self.ts is not None and self.broken:
            self.budget.defer(self._close_later(self.ts))  # shows what it has, no longer "being written"
        await self._post_rest()

    async def _stop(self, stop_slot: Reservation | None) -> bool:
        """chat.stopStream with the rest of the text; False (and the stream closed later) when not in time."""
        assert self.ts is not None
        rest = self.text[self.sent :]
        note = self.note
        final = rest + (f"\n\n_{note}_" if note else "")
        if not self.text and not note:
            final = "_(no answer)_"
        deadline = time.monotonic() + FINAL_EDIT_WAIT
        for _attempt in range(_ATTEMPTS):
            try:
                await asyncio.wait_for(
                    self.budget.acquire((self.workspace.stream_stop,), Priority.FINAL, reservation=stop_slot),
                    max(0.0, deadline - time.monotonic()),
                )
            except TimeoutError:
                break
            try:
                await self.client.chat_stopStream(channel=self.surface.channel, ts=self.ts, markdown_text=final or None)
                self.sent = len(self.text)
                return True
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                if self._refused(exc, (self.workspace.stream_stop,), "chat.stopStream"):
                    return False
        # Not in time: the rest goes out as messages now, and the stream is closed as it stands later.
        log.warning("chat.stopStream could not be had in time; the rest follows as messages")
        self.budget.defer(self._close_later(self.ts))
        return False

    async def _close_later(self, ts: str) -> None:
        for _attempt in range(TIDY_ATTEMPTS):
            await self.budget.acquire((self.workspace.stream_stop,), Priority.ROUTINE)
            try:
                await self.client.chat_stopStream(channel=self.surface.channel, ts=ts)
                return
            except SlackApiError as exc:
                error = delivery_error(exc)
                if not isinstance(error, RateLimited):
                    log.info("could not close stream %s: %s", ts, error)
                    return
                self.budget.penalize((self.workspace.stream_stop,), error.retry_after)
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("could not close stream %s: %s", ts, exc)
                await asyncio.sleep(1.0)
        log.warning("gave up closing stream %s", ts)

    async def _post_rest(self) -> None:
        """The stream failed: post what Slack does not have yet as ordinary messages."""
        rest = self.text[self.sent :]
        note = self.note
        if not rest.strip() and not note:
            return
        limits = self.surface.limits
        splitter = Splitter(
            limits.max_chars, reserve=limits.reserve, measure=lambda md: len(self.surface.format_text(md))
        )
        pieces = splitter.pieces(rest) if rest.strip() else []
        texts = [self.surface.format_text(p.opening + p.body) + p.closing for p in pieces]
        if note:
            formatted = self.surface.format_note(note)
            if texts:
                texts[-1] += "\n\n" + formatted
            else:
                texts = [formatted]
        for text in texts:
            for _attempt in range(_ATTEMPTS):
                await self.budget.acquire(self.surface.windows("post"), Priority.FIRST)
                try:
                    await self.surface.post(text)
                    break
                except RateLimited as exc:
                    self.budget.penalize(self.surface.windows("post"), exc.retry_after)
                except DeliveryError as exc:
                    log.warning("could not post the rest of a streamed answer: %s", exc)
                    return
