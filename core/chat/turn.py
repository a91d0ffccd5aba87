"""One turn, once it holds its conversation's place in line.

store the user message → before-model steps → the model/tool loop → store the
answer → after-answer steps in the background.  The answer row exists from the
start with status ``streaming`` and is checkpointed while it grows, so a model
failure, a platform failure or a crash leaves the user's message and every
stored character of the answer in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from core.chat.answer import AnswerDraft, AnswerRecorder
from core.chat.holding import Box, Hold
from core.chat.inbound import InboundClaims
from core.chat.media import MediaReader
from core.chat.pipeline import TurnPipeline
from core.chat.stamps import LeadingStampFilter
from core.chat.steps import ContextAddition, FinishedTurn, TurnFacts
from core.chat.user_ops import UserOperations
from core.chat.waiting import Waiting, WaitingMessages
from core.chat.window_loader import WindowLoader
from core.clock import Clock
from core.context import ContextBuilder, images_of
from core.db.outage import DatabaseUnavailable
from core.db.repositories import MessageRepository, StartedTurn, UserRecord
from core.llm import ModelError
from core.media.voice import Speaker, VoiceError
from core.timefmt import stamp, zone
from core.toolloop.loop import ToolLoop
from core.tools.registry import ToolContext, ToolRegistry
from core.types import (
    AnswerComplete,
    IncomingMessage,
    MessageStatus,
    OutgoingFile,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)

log = logging.getLogger(__name__)

TOO_LONG = "_Your message is very long ({chars:,} characters): I read its beginning; all of it is saved._\n\n"

VOICE_SETTING = "voice"  # users.settings key: "on" sends every answer also as speech

# A gap this long is stated to the model, in a note of at most this many tokens.
LONG_GAP = timedelta(hours=6)
GAP_NOTE_RESERVE = 40

DELETED_BEFORE_ANSWER = "You deleted that message before I got to it, so I left it unanswered."
# Stored with a partial answer; the model reads "[this answer was cut off: <reason>]", /history "partial: <reason>".
INTERRUPTED_REASON = "stopped before it was finished"
RESTART_REASON = "the assistant restarted while answering"


class TurnRunner:
    """Runs the body of a turn; built once by the chat service."""

    def __init__(
        self,
        *,
        messages: MessageRepository,
        context: ContextBuilder,
        windows: WindowLoader,
        answers: AnswerRecorder,
        loop: ToolLoop,
        tools: ToolRegistry,
        pipeline: TurnPipeline,
        waiting: WaitingMessages,
        claims: InboundClaims,
        user_ops: UserOperations,
        clock: Clock,
        default_timezone: str,
        model_name: str,
        media: MediaReader | None = None,
        speaker: Speaker | None = None,
    ) -> None:
        self.messages = messages
        self.context = context
        self.windows = windows
        self.answers = answers
        self.loop = loop
        self.tools = tools
        self.pipeline = pipeline
        self.waiting = waiting
        self.claims = claims
        self.user_ops = user_ops
        self.clock = clock
        self.default_timezone = default_timezone
        self.model_name = model_name
        self.media = media
        self.speaker = speaker

    async def run(
        self,
        incoming: IncomingMessage,
        user: UserRecord,
        owner_user_id: int,
        conversation_id: int,
        connection: AsyncConnection | None,
        waiting: Waiting,
        *,
        hold: Hold | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """The turn proper. ``connection`` (PostgreSQL) holds the conversation's advisory lock and
        carries the turn's own writes, saving a transaction round trip each. ``hold`` retries
        storing the user's message through a database outage (see `core.chat.holding`)."""

        def start():  # noqa: ANN202 - the StartedTurn of the repository
            return self.messages.start_turn(
                conversation_id=conversation_id,
                author_user_id=user.id,
                text=incoming.text,
                token_count=self.context.counter.count(incoming.text),
                created_at=incoming.received_at,
                attachments=[
                    {"kind": a.kind.value, "filename": a.filename, "content_type": a.content_type, "url": a.url}
                    for a in incoming.attachments
                ],
                platform_message_id=incoming.platform_message_id,
                model=self.model_name,
                connection=connection,
                place=incoming.conversation,
            )

        if hold is None:
            started = await start()
        else:
            box: Box[StartedTurn] = Box()
            async for event in hold.step("storing the message", start, box):
                yield event
            started = box.value
            hold.release()
            if hold.told:
                yield StatusUpdate("")  # the delay notice gives way to the answer
        self.waiting.leave(incoming.conversation, incoming.platform_message_id, waiting)
        # Changes noted by any process until it was stored; later ones find the stored message.
        self.claims.catch_up(started.noted, waiting)
        answer = AnswerDraft(started.answer_id, conversation_id, started.answer_created_at, connection)
        # Changed while it was being stored: apply it now that it is in the database.
        if waiting.deleted:
            await self.user_ops.delete_user_message(incoming.conversation, incoming.platform_message_id)
            await self.answers.finish(answer, MessageStatus.FAILED, reason=DELETED_BEFORE_ANSWER)
            yield TurnError(DELETED_BEFORE_ANSWER, answer.id)
            return
        if waiting.text != incoming.text:
            await self.user_ops.edit_user_message(incoming.conversation, incoming.platform_message_id, waiting.text)
            started = dataclasses.replace(started, revision=started.revision + 1)
            incoming = dataclasses.replace(incoming, text=waiting.text)
        yield TurnStarted(conversation_id, started.user_row.id, answer.id)
        tz = zone(user.timezone, self.default_timezone)
        facts = TurnFacts(
            incoming=incoming,
            user=user,
            owner_user_id=owner_user_id,
            conversation_id=conversation_id,
            user_message_id=started.user_row.id,
            answer_message_id=answer.id,
            now=self.clock(),
            timezone=tz,
        )
        status = MessageStatus.PARTIAL
        finished = complete = False
        try:
            if self.media is not None and self.media.applies(incoming.attachments):
                yield StatusUpdate(self.media.status(incoming.attachments))
                read = await self.media.read(
                    started.user_row, incoming.attachments, user_id=user.id, connection=connection
                )
                started = dataclasses.replace(started, user_row=read.row)
                facts = dataclasses.replace(facts, incoming=dataclasses.replace(incoming, text=read.row.content))
                answer.outcome.add_usage(read.usage)
                yield StatusUpdate("")
                if read.lines:
                    shown = "\n".join(read.lines) + "\n\n"
                    answer.outcome.parts.append(shown)
                    yield TextDelta(shown)
                if read.nothing_to_answer:
                    await self.answers.finish(answer, MessageStatus.FAILED, reason=read.nothing_to_answer)
                    finished, status = True, MessageStatus.FAILED
                    yield TurnError(read.nothing_to_answer, answer.id)
                    return
            if started.user_row.token_count > self.context.max_message_tokens:
                note = TOO_LONG.format(chars=len(started.user_row.content))
                answer.outcome.parts.append(note)
                yield TextDelta(note)
            messages, in_view_from = await self._request(facts, started)
            tool_context = ToolContext(
                user=user,
                conversation_id=conversation_id,
                now=facts.now,
                timezone=tz,
                owner_user_id=owner_user_id,
                place=incoming.conversation,
                user_message_id=facts.user_message_id,
                in_view_from=in_view_from,
                shared=facts.shared,
            )
            tools = self.tools.for_user(user, shared=facts.shared)
            run = self.loop.run(messages, tools, tool_context, answer.outcome, text_filter=LeadingStampFilter())
            async with aclosing(run) as events:
                async for event in events:
                    yield event
                    if isinstance(event, TextDelta):
                        await self.answers.maybe_checkpoint(answer)
                    elif isinstance(event, OutgoingFile) and self.media is not None:
                        await self.media.keep_output(event, user_id=user.id, answer_id=answer.id)
            spoken, note = await self._speech(user, answer)
            if note:
                answer.outcome.parts.append(note)
                yield TextDelta(note)
            complete = True  # shown as final from here on: stored as complete whatever happens next
            yield AnswerComplete(answer.id)
            try:
                await self.answers.finish(answer, MessageStatus.COMPLETE)
                status, finished = MessageStatus.COMPLETE, True
            except DatabaseUnavailable:
                # Shown, but the database stayed away past the retries: the row keeps its last
                # checkpoint as `streaming`; later turns read it as cut off, a restart marks it partial.
                status, finished = MessageStatus.PARTIAL, True
            for file in spoken:  # the answer read aloud, uploaded after the text
                yield file
            yield TurnDone(answer.id, answer.text)
        except ModelError as exc:
            status = MessageStatus.PARTIAL if answer.text else MessageStatus.FAILED
            log.warning("model call failed in conversation %s: %s", conversation_id, exc)
            finished = True  # stored here, or given up on after the retries: not tried again below
            with contextlib.suppress(DatabaseUnavailable):  # left `streaming`: later turns read it as cut off
                await self.answers.finish(answer, status, reason=exc.user_message)
            yield TurnError(exc.user_message, answer.id)
        finally:
            if not finished and complete:
                # Stopped while the final text was being stored (it may already show as final):
                # store it as complete. A fresh connection, the held one may be mid-statement.
                answer.connection = None
                status = MessageStatus.COMPLETE
                await asyncio.shield(self.answers.finish(answer, status))
            elif not finished:
                # Cancelled, or the consumer went away: keep what was said so far. The held
                # connection may have been interrupted mid-statement, so use a fresh one.
                answer.connection = None
                status = MessageStatus.PARTIAL
                await asyncio.shield(self.answers.finish(answer, status, reason=INTERRUPTED_REASON))
            self.pipeline.run_after_answer(
                FinishedTurn(facts, answer.text, status, tuple(content for _, content in answer.outcome.tool_results))
            )

    async def _speech(self, user: UserRecord, answer: AnswerDraft) -> tuple[tuple[OutgoingFile, ...], str]:
        """The answer as audio when the user turned voice on (``/settings voice on``), and a note to add
        to the text when speech failed or stops early."""
        if self.speaker is None or (user.settings or {}).get(VOICE_SETTING) != "on" or not answer.text.strip():
            return (), ""
        try:
            speech = await self.speaker.speak(answer.text)
        except VoiceError as exc:
            log.info("speech for answer %s failed: %s", answer.id, exc.user_message)
            return (), f"\n\n_{exc.user_message}_"
        return speech.files, (f"\n\n_{speech.note}_" if speech.note else "")

    async def _request(self, facts: TurnFacts, started) -> tuple[list[dict], int]:  # noqa: ANN001 - StartedTurn
        """The model's messages for this turn (system prompt, steps' context, the recent window), and the
        id of the oldest message of this conversation the model sees."""
        additions = await self.pipeline.run_before_model(facts)
        notes = [note for addition in additions for note in addition.notes]
        floor = _covered_up_to(additions)
        shared = facts.shared
        system_text = self.context.system_message(
            now=facts.now, tz=facts.timezone, user_name=facts.user.display_name, shared=shared
        )
        budget = self.context.window_budget(system_text, notes) - GAP_NOTE_RESERVE
        speaker = facts.user.display_name if shared else None
        window = await self.windows.load(facts.conversation_id, started, facts.timezone.key, budget, speaker=speaker)
        entries = [e for e in window.entries if e.id > floor] if floor else list(window.entries)
        gap = gap_note(entries, facts)
        fitted = self.context.fit(entries, budget)
        built = self.context.build(
            system_text=system_text,
            window=fitted,
            # With a vision agent the images were described already; the chat model need not see them.
            current_images=() if self.media is not None else images_of(facts.incoming.attachments),
            earlier=[*notes, gap] if gap else notes,
        )
        return built.messages, min((entry.id for entry in fitted), default=facts.user_message_id)


def gap_note(entries: list, facts: TurnFacts) -> str:  # noqa: ANN001 - WindowEntry list
    """A line telling the model how long the conversation was quiet, when that was long enough to matter."""
    previous = entries[-2].at if len(entries) >= 2 else None
    if previous is None:
        return ""
    quiet = facts.incoming.received_at - previous
    if quiet < LONG_GAP:
        return ""
    return f"The previous message in this conversation was {describe_gap(quiet)} ago, at {stamp(previous, facts.timezone)}."


def describe_gap(quiet: timedelta) -> str:
    """'3 days', '7 hours' - the coarsest unit that says it."""
    days, hours = quiet.days, quiet.seconds // 3600
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _covered_up_to(additions: list[ContextAddition]) -> int:
    return max((a.covers_up_to for a in additions if a.covers_up_to is not None), default=0)
