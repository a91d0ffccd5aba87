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

import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from adapters.answer_renderer import AnswerRenderer, PartsRecorder
from adapters.budget import Reservation
from adapters.budgeted_call import ONCE, PATIENT, RETRY, RetryPolicy
from adapters.rate_window import Priority
from adapters.render import StreamRenderer
from adapters.render_layout import Layout
from adapters.render_schedule import FINAL_EDIT_WAIT, EditSchedule
from adapters.slack.read_ahead import read_to_first_text
from adapters.slack.readback import ThreadReadback
from adapters.slack.surface import NETWORK_ERRORS, SlackSurface, delivery_error, sent_once, slack_call
from adapters.surface import DeliveryError, RateLimited
from core.types import OutgoingFile, Refused, StatusUpdate, TextDelta, TurnDone, TurnError, TurnEvent, TurnStarted

log = logging.getLogger(__name__)

# Slack refuses more than 12,000 characters of markdown_text in one streaming call.
CALL_MAX_CHARS = 10_000
_CLIENT_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)


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
        self._appends = EditSchedule(self.budget.pace, self.workspace.append_interval)

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
        """Consume ``events`` to the end, streaming the text into one Slack message.

        The start slot is taken only when the first text is there: by then the
        budget knows what earlier starts taught it, so a start Slack would refuse
        is not sent (the answer edits a placeholder instead).
        """
        stop_slot = self.budget.reserve((self.workspace.stream_stop,))
        if stop_slot is None:
            log.info("stream budget exhausted in %s; editing a placeholder instead", self.workspace.team_id)
            await self._render_with_placeholder(events)
            return
        self._stop_slot = stop_slot
        self.workspace.streaming_answers += 1
        try:
            first, replay = await read_to_first_text(events)
            started = self.budget.try_acquire((self.workspace.stream_start,), Priority.FIRST, tracked=True)
            if not started or (first and not await self._first_start(first)):
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
            self.ts = await self._start_call(text, policy=ONCE)
        except RateLimited:
            log.info("chat.startStream was rate limited; this answer edits a placeholder instead")
            return False
        except DeliveryError as error:
            log.warning("chat.startStream was refused (%s); this answer edits a placeholder instead", error)
            return False
        except _CLIENT_ERRORS as exc:
            log.warning("chat.startStream failed: %s; trying again", exc)
            return True  # the writer starts it (``ts`` is still unknown)
        self._first_sent = len(text)
        return True

    async def _start_call(self, text: str, *, policy: RetryPolicy) -> str:
        """chat.startStream with its start slot already taken (the answer took it when it began)."""
        return await self.calls.call(
            (self.workspace.stream_start,),
            Priority.FIRST,
            lambda: self._send_start(text),
            what="chat.startStream",
            policy=policy,
            granted=True,
        )

    async def _send_start(self, text: str) -> str:
        """chat.startStream, sent once; returns the stream's ts.

        When the call failed on the network it may still have started the stream:
        that stream is looked for and adopted before the failure is raised.
        """
        since = time.time()  # compared with Slack's own timestamps
        try:
            response = await self._once.chat_startStream(
                channel=self.surface.channel,
                thread_ts=self.thread_ts,
                markdown_text=text or None,
                recipient_user_id=self.recipient_user_id or None,
                recipient_team_id=self.recipient_team_id or None,
            )
        except SlackApiError as exc:
            raise delivery_error(exc) from exc  # Slack answered: it refused, nothing was started
        except _CLIENT_ERRORS:
            started = await self._readback.started_stream(text, since)
            if started is None:
                raise
            return started
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
            await self._appends.routine_turn((self._finished,))
            if self._finished.is_set():
                return
            await self._append(self.text[self.sent : self.sent + CALL_MAX_CHARS], Priority.ROUTINE)
            self._appends.routine_done()
            if self.sent < len(self.text):
                self._changed.set()

    async def _start(self) -> None:
        """chat.startStream with everything so far (its start slot was taken when the answer began)."""
        text = self.text[:CALL_MAX_CHARS]
        try:
            self.ts = await self._start_call(text, policy=RETRY)
        except Exception as exc:  # noqa: BLE001 - refused, or never reached: the rest goes out as messages
            log.warning("chat.startStream failed (%s); the rest of the answer goes out as messages", exc)
            self.broken = True
            return
        self.sent = len(text)
        self._record_soon([self.ts])

    async def _append(self, chunk: str, priority: Priority) -> None:
        if not chunk or self.ts is None:
            return
        ts = self.ts
        try:
            await self.calls.call(
                (self.workspace.stream_append,),
                priority,
                lambda: slack_call(
                    self._once.chat_appendStream(channel=self.surface.channel, ts=ts, markdown_text=chunk)
                ),
                what="chat.appendStream",
                policy=ONCE,
            )
            self.sent += len(chunk)
        except RateLimited:
            pass  # the budget holds back; the next append carries it
        except DeliveryError as exc:
            log.warning("chat.appendStream was refused (%s); the rest of the answer goes out as messages", exc)
            self.broken = True
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
        except SlackClientError as exc:
            log.warning("chat.appendStream failed: %s", exc)  # worth another try

    async def _landed(self, size: int) -> bool | None:
        """Whether the streamed message shows the next ``size`` characters: True, False, or None (unknown)."""
        assert self.ts is not None
        shown = await self._readback.shown_text(self.ts)
        if shown == self.text[: self.sent + size]:
            return True
        if shown == self.text[: self.sent]:
            return False
        return None

    # -- the end ------------------------------------------------------------------------

    async def _finish(self) -> None:
        stop_slot = self._stop_slot
        if self.ts is None and not self.broken:
            await self._start()
        if self.ts is not None and not self.broken:
            # Whatever the final call cannot carry goes in appends first.
            while len(self.text) - self.sent > CALL_MAX_CHARS and not self.broken:
                before = self.sent
                await self._append(self.text[self.sent : self.sent + CALL_MAX_CHARS], Priority.FIRST)
                if self.sent == before and not self.broken:
                    await self.budget.pace.sleep(0.5)
            if not self.broken and await self._stop(stop_slot):
                return
        if self.ts is not None and self.broken:
            self.budget.defer(self._close_later(self.ts))  # shows what it has, no longer "being written"
        await self._post_rest()

    async def _stop(self, stop_slot: Reservation | None) -> bool:
        """chat.stopStream with the rest of the text; False (and the stream closed later) when not in time."""
        assert self.ts is not None
        ts = self.ts
        rest = self.text[self.sent :]
        note = self.note
        final = rest + (f"\n\n_{note}_" if note else "")
        if not self.text and not note:
            final = "_(no answer)_"
        try:
            await self.calls.call(
                (self.workspace.stream_stop,),
                Priority.FINAL,
                lambda: slack_call(
                    self.client.chat_stopStream(channel=self.surface.channel, ts=ts, markdown_text=final or None)
                ),
                what="chat.stopStream",
                reservation=stop_slot,
                deadline=self._appends.deadline(FINAL_EDIT_WAIT),
            )
            self.sent = len(self.text)
            return True
        except DeliveryError as error:
            log.warning("chat.stopStream was refused (%s); the rest of the answer goes out as messages", error)
            self.broken = True
            return False
        except (RateLimited, *_CLIENT_ERRORS):
            pass
        # Not in time: the rest goes out as messages now, and the stream is closed as it stands later.
        log.warning("chat.stopStream could not be had in time; the rest follows as messages")
        self.budget.defer(self._close_later(ts))
        return False

    async def _close_later(self, ts: str) -> None:
        try:
            await self.calls.call(
                (self.workspace.stream_stop,),
                Priority.ROUTINE,
                lambda: slack_call(self.client.chat_stopStream(channel=self.surface.channel, ts=ts)),
                what=f"closing stream {ts}",
                policy=PATIENT,
            )
        except Exception as exc:  # noqa: BLE001 - cosmetic: the answer's text is out
            log.info("could not close stream %s: %s", ts, exc)

    async def _post_rest(self) -> None:
        """The stream failed: post what Slack does not have yet as ordinary messages."""
        for text in Layout(self.surface).continuation(self.text[self.sent :], self.note):
            try:
                await self.calls.call(
                    self.surface.windows("post"), Priority.FIRST, lambda t=text: self.surface.post(t), what="post"
                )
            except Exception as exc:  # noqa: BLE001 - the core keeps the text
                log.warning("could not post the rest of a streamed answer: %s", exc)
                return
