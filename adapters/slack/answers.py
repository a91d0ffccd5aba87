"""Running answers: one renderer per user message, the assistant status, and closing off on stop.

Every answer in progress is known here, so that stopping the service closes
each one off visibly (the text so far, no streaming marker, a note saying it
was cut off) instead of leaving a message that looks as if it were still being written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from functools import partial

import aiohttp
from slack_sdk.errors import SlackClientError

from adapters.rate_window import Priority
from adapters.render import StreamRenderer
from adapters.slack.files import SharedFiles
from adapters.slack.native_stream import NativeStreamRenderer
from adapters.slack.surface import SlackSurface
from core.chat import NOTHING_READABLE, ChatService
from core.people import Admission
from core.types import Attachment, IncomingMessage, Refused, TextDelta, TurnDone, TurnError, TurnEvent

log = logging.getLogger(__name__)

THINKING = "is thinking…"


class AssistantStatus:
    """assistant.threads.setStatus ("is thinking…") until the first text, for apps with the assistant feature."""

    def __init__(self, surface: SlackSurface, thread_ts: str) -> None:
        self.surface = surface
        self.thread_ts = thread_ts
        self.shown = False
        self._showing: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Set the status in the background, so the answer's placeholder does not wait for it."""
        self._showing = asyncio.get_running_loop().create_task(self._show())

    async def clear(self) -> None:
        """Take the status away again (only if it was set)."""
        if self._showing is not None:
            await asyncio.shield(self._showing)
        if not self.shown:
            return
        self.shown = False
        workspace = self.surface.workspace
        await workspace.budget.acquire((workspace.status,), Priority.FIRST)
        await self._set("")

    async def _show(self) -> None:
        # A nicety, never a wait: only when the workspace's status window has room now.
        workspace = self.surface.workspace
        if self.thread_ts and workspace.budget.try_acquire((workspace.status,), Priority.FIRST):
            self.shown = await self._set(THINKING)

    async def _set(self, status: str) -> bool:
        try:
            await self.surface.client.assistant_threads_setStatus(
                channel_id=self.surface.channel, thread_ts=self.thread_ts, status=status
            )
            return True
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("assistant.threads.setStatus failed (is the assistant feature on?): %s", exc)
            return False


Renderer = StreamRenderer | NativeStreamRenderer


@dataclass(eq=False)
class _Running:
    task: asyncio.Task[object] | None
    renderer: Renderer | None = None
    ended: bool = False  # the core finished the turn; only the last edits are left
    background: set[asyncio.Task[None]] = field(default_factory=set)
    files_note: str = ""  # files of the message that were not read, said under the answer


class AnswerRunner:
    """Answers user messages on Slack surfaces through the shared renderer (or native streaming)."""

    def __init__(self, *, chat: ChatService, native_streaming: bool = False, assistant_status: bool = False) -> None:
        self.chat = chat
        self.native_streaming = native_streaming
        self.assistant_status = assistant_status
        self._running: set[_Running] = set()

    async def answer(
        self,
        incoming: IncomingMessage,
        surface: SlackSurface,
        *,
        fetch_files: Callable[[], Awaitable[SharedFiles]] | None = None,
        admission: Admission | None = None,
    ) -> None:
        """Run the turn for ``incoming`` and render it on ``surface``.

        ``fetch_files`` downloads the message's files when its turn comes (the message
        keeps its place in line from its arrival); what it could not read is said
        under the answer.  ``admission``: the gate's access decision for this message.
        """
        state = _Running(asyncio.current_task())
        thread_ts = surface.thread_ts or incoming.platform_message_id
        status = AssistantStatus(surface, thread_ts) if self.assistant_status else None
        renderer: Renderer
        if self.native_streaming and thread_ts:
            renderer = NativeStreamRenderer(
                surface,
                thread_ts=thread_ts,
                recipient_user_id=incoming.author.user_id,
                recipient_team_id=incoming.author.workspace,
                record_parts=self.chat.record_platform_parts,
            )
        else:
            renderer = StreamRenderer(surface, record_parts=self.chat.record_platform_parts)
        state.renderer = renderer
        if fetch_files is not None:
            incoming = dataclasses.replace(incoming, fetch_attachments=partial(_fetch, fetch_files, state))
        self._running.add(state)
        editing = 1 if isinstance(renderer, StreamRenderer) else 0  # native streams count their own
        surface.workspace.editing_answers += editing
        try:
            if status is not None:
                status.start()
            await renderer.render(self._watch(self.chat.turn(incoming, admission=admission), state, status))
        finally:
            surface.workspace.editing_answers -= editing
            self._running.discard(state)
            if status is not None:
                await asyncio.shield(status.clear())

    async def _watch(
        self,
        events: AsyncIterator[TurnEvent],
        state: _Running,
        status: AssistantStatus | None,
    ) -> AsyncIterator[TurnEvent]:
        """Pass the core's events on, noting the end of the turn and clearing the status at the first text."""
        async with aclosing(events) as stream:
            async for event in stream:
                if status is not None and isinstance(event, TextDelta) and not state.background:
                    task = asyncio.create_task(status.clear())  # the first text: the status has done its job
                    state.background.add(task)
                if isinstance(event, TurnDone | TurnError | Refused):
                    state.ended = True
                if state.files_note and isinstance(event, TurnError):
                    # Nothing readable because of what the note says: the note alone tells it.
                    said = "" if event.message == NOTHING_READABLE else f"{event.message}\n"
                    event = dataclasses.replace(event, message=said + state.files_note)
                yield event

    async def interrupt_all(self, timeout: float) -> None:
        """Stop every answer in progress: each is closed off with the renderer's shutdown note.

        The core stores each cut answer as partial; answers whose turn already
        ended are left to finish their last edit.
        """
        tasks = []
        for state in list(self._running):
            if state.task is None:
                continue
            if not state.ended:
                state.task.cancel()
            tasks.append(state.task)
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("an answer did not close within %.0fs; abandoning it", timeout)
            task.cancel()
        for task in done:
            with suppress(asyncio.CancelledError, Exception):
                task.result()


async def _fetch(fetch_files: Callable[[], Awaitable[SharedFiles]], state: _Running) -> tuple[Attachment, ...]:
    """Download the message's files now that its turn has come; keep the note on what was not read."""
    shared = await fetch_files()
    if shared.note:
        state.files_note = shared.note
        if state.renderer is not None and not state.renderer.note:
            state.renderer.note = shared.note
    return shared.attachments
