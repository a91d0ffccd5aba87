"""The shared renderer against an in-memory platform: what a user would see in the channel.

Time is a manual clock that moves on whenever everything waits for it, so the
rate windows, edit intervals and retries of minutes take milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from adapters.budget import RateBudget
from adapters.delivery import close_interrupted
from adapters.rate_window import Priority, SlidingWindow
from adapters.render import RenderStats, StreamRenderer
from adapters.surface import DeliveryError, RateLimited, SurfaceLimits
from core.chat import InterruptedAnswer
from core.clock import ManualClock
from core.types import (
    ConversationRef,
    OutgoingFile,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)

T = TypeVar("T")


class Channel:
    """A platform channel kept in memory, with the same Surface contract as Discord and Slack."""

    def __init__(
        self, max_chars: int = 2000, *, edits_per_window: int = 5, window: float = 0.5, first_text_wait: float = 0.0
    ) -> None:
        self.limits = SurfaceLimits(max_chars=max_chars, first_text_wait=first_text_wait)
        self.clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        self.budget = RateBudget(self.clock.pace())
        self.edit_window = SlidingWindow("edit", edits_per_window, window)
        self.post_window = SlidingWindow("post", 5, window)
        self.interval = window / edits_per_window
        self.messages: dict[str, str] = {}
        self.history: list[tuple[str, str, str]] = []
        self.uploads: list[str] = []
        self.fail_next: list[Exception] = []
        self.edit_times: list[float] = []

    def windows(self, action: str) -> Sequence[SlidingWindow]:
        return [self.edit_window] if action == "edit" else [self.post_window]

    def routine_interval(self) -> float:
        return self.interval

    def format_text(self, markdown: str) -> str:
        return markdown

    def format_status(self, status: str) -> str:
        return f"_{status}_"

    def format_note(self, note: str) -> str:
        return f"⚠ {note}"

    async def post(self, text: str) -> str:
        assert len(text) <= self.limits.max_chars
        message_id = str(len(self.history) + 1)
        self.messages[message_id] = text
        self.history.append(("post", message_id, text))
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        assert len(text) <= self.limits.max_chars
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.messages[message_id] = text
        self.history.append(("edit", message_id, text))
        self.edit_times.append(self.budget.pace.now())

    async def delete(self, message_id: str) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        del self.messages[message_id]
        self.history.append(("delete", message_id, ""))

    async def upload(self, file: OutgoingFile) -> None:
        self.uploads.append(file.filename)
        self.history.append(("upload", "", file.filename))

    async def typing(self) -> None:
        self.history.append(("typing", "", ""))

    @property
    def visible(self) -> list[str]:
        return list(self.messages.values())

    def renderer(self, **kwargs: object) -> StreamRenderer:
        """A renderer for this channel, timing everything on its clock."""
        return StreamRenderer(self, clock=self.clock, sleep=self.clock.sleep, **kwargs)  # type: ignore[arg-type]

    async def render(self, events: AsyncIterator[TurnEvent], **kwargs: object) -> RenderStats:
        """Render ``events`` with a new renderer, to the end."""
        return await self.run(self.renderer(**kwargs).render(events))

    async def stream(self, *events: TurnEvent | float) -> AsyncIterator[TurnEvent]:
        """The events, with the pauses (floats, in seconds) taken on the channel's clock."""
        for event in events:
            if isinstance(event, float):
                await self.clock.sleep(event)
            else:
                yield event

    async def run(self, work: Awaitable[T], *, limit: float = 3600.0) -> T:
        """Await ``work``, moving the clock to the next wake-up whenever everything waits for it."""
        task = asyncio.ensure_future(work)
        start = self.clock()
        while not task.done():
            for _ in range(50):  # let everything that can run, run
                await asyncio.sleep(0)
                if task.done():
                    return task.result()
            due = self.clock.next_wake()
            assert due is not None, "everything waits, but not for the clock"
            assert (due - start).total_seconds() <= limit, "it never ended"
            self.clock.set(due)
        return task.result()


def words(text: str, pause: float = 0.002) -> list[TurnEvent | float]:
    out: list[TurnEvent | float] = []
    for piece in text.split(" "):
        out += [TextDelta(piece + " "), pause]
    return out


async def test_placeholder_first_then_the_exact_answer_without_marker() -> None:
    channel = Channel()
    recorded: list[tuple[int, list[str]]] = []

    async def record(answer_id: int, parts: list[str]) -> None:
        recorded.append((answer_id, parts))

    stats = await channel.render(
        channel.stream(TurnStarted(1, 1, 7), 0.05, *words("Hello there, how are you"), TurnDone(7, "x")),
        record_parts=record,
    )

    assert channel.history[0][0] in ("post", "typing")
    first_post = next(h for h in channel.history if h[0] == "post")
    assert first_post[2] == "▌", "a placeholder appears before any text"
    assert channel.visible == ["Hello there, how are you "]
    assert recorded[-1] == (7, [first_post[1]])
    assert stats.first_text_at is not None and stats.final_at is not None


async def test_while_streaming_a_marker_and_the_status_line_show() -> None:
    channel = Channel()
    await channel.render(
        channel.stream(
            TextDelta("Let me check."),
            0.05,
            StatusUpdate("Checking the time…"),
            0.2,
            StatusUpdate(""),
            TextDelta(" It is noon."),
            TurnDone(1, "x"),
        )
    )

    shown = [h[2] for h in channel.history if h[0] in ("post", "edit")]
    assert "Let me check. ▌" in shown
    assert any("_Checking the time…_" in s for s in shown)
    assert channel.visible == ["Let me check. It is noon."]


async def test_a_long_answer_continues_in_new_messages_with_nothing_lost() -> None:
    channel = Channel()
    text = " ".join(f"word{n}" for n in range(1500))  # ~10,000 characters

    await channel.render(channel.stream(*words(text, 0.0), TurnDone(1, text)))

    assert len(channel.visible) >= 5
    assert all(len(m) <= 2000 for m in channel.visible)
    assert "".join(channel.visible) == text + " "


async def test_an_error_keeps_the_partial_answer_and_explains() -> None:
    channel = Channel()
    await channel.render(
        channel.stream(
            TextDelta("The first half"), 0.02, TurnError("The model service failed (HTTP 500); try again shortly.", 3)
        )
    )

    assert channel.visible == ["The first half\n\n⚠ The model service failed (HTTP 500); try again shortly."]


async def test_a_rate_limit_is_waited_out_and_the_text_still_arrives() -> None:
    channel = Channel()
    channel.fail_next = [RateLimited(0.05)]

    stats = await channel.render(channel.stream(*words("one two three"), TurnDone(1, "x")))

    assert stats.rate_limited == 1
    assert channel.visible == ["one two three "]


async def test_a_deleted_placeholder_means_the_answer_is_posted_anew() -> None:
    channel = Channel()
    channel.fail_next = [DeliveryError("Unknown Message", gone=True)]

    await channel.render(channel.stream(0.02, *words("still here"), TurnDone(1, "x")))

    assert channel.visible[-1] == "still here "


async def test_files_are_uploaded_beside_the_text() -> None:
    channel = Channel()
    await channel.render(
        channel.stream(TextDelta("Here it is."), OutgoingFile("image.png", "image/png", b"png"), TurnDone(1, "x"))
    )

    assert channel.uploads == ["image.png"]
    assert channel.visible == ["Here it is."]


async def test_an_interrupted_answer_is_closed_off_after_a_restart() -> None:
    channel = Channel()
    channel.messages = {"1": "Half an answer ▌"}

    await channel.run(
        close_interrupted(channel, InterruptedAnswer(5, ConversationRef("test", "w", "c"), "Half an answer", ("1",)))
    )

    assert channel.visible == ["Half an answer\n\n⚠ This answer was cut off when the assistant restarted."]


async def test_edits_never_exceed_the_platform_window() -> None:
    channel = Channel(edits_per_window=5, window=0.5)
    text = " ".join(f"w{n}" for n in range(120))

    await channel.render(channel.stream(*words(text, 0.01), TurnDone(1, text)))

    assert channel.visible == [text + " "]
    times = channel.edit_times
    assert len(times) > 5, "the answer was updated while it streamed"
    for start in times:
        assert sum(1 for t in times if start <= t < start + 0.5) <= 5


async def settled(channel: Channel, renderers: Sequence[StreamRenderer], timeout: float = 5.0) -> list[str]:
    """What the channel shows once the renderers' deferred tidying is done."""
    deferred = {task for r in renderers for task in r.budget._deferred}
    if deferred:
        await channel.run(asyncio.wait(deferred), limit=timeout)
    return channel.visible


async def test_when_the_edit_budget_is_exhausted_the_rest_continues_below_and_nothing_is_stale() -> None:
    channel = Channel(edits_per_window=2, window=1.0)
    first_text = " ".join(f"a{n}" for n in range(30)) + " "
    second_text = " ".join(f"b{n}" for n in range(30)) + " "

    first, second = channel.renderer(), channel.renderer()
    await channel.run(
        asyncio.gather(
            first.render(channel.stream(0.05, *words(first_text.strip()), TurnDone(1, "x"))),
            second.render(channel.stream(0.05, *words(second_text.strip()), TurnDone(2, "y"))),
        )
    )
    shown = await settled(channel, [first, second])

    assert all("▌" not in message for message in shown), shown
    mine = {"a": "".join(m for m in shown if m.startswith("a")), "b": "".join(m for m in shown if m.startswith("b"))}
    assert mine == {"a": first_text, "b": second_text}, "every message is a true part, nothing shown twice"


async def test_a_rate_limited_tidy_edit_is_tried_again_until_the_marker_is_gone() -> None:
    channel = Channel(edits_per_window=2, window=1.0)
    renderer = channel.renderer()

    async def events() -> AsyncIterator[TurnEvent]:
        yield TextDelta("Story ")
        await channel.clock.sleep(0.1)  # "Story ▌" is shown by now
        # The platform refuses every edit for a while: the final edit cannot come in time.
        channel.fail_next = [RateLimited(0.3) for _ in range(14)]
        yield TextDelta("about a fox who ran far away.")
        yield TurnDone(1, "x")

    await channel.run(renderer.render(events()), limit=10)
    assert channel.visible == ["Story  ▌", "about a fox who ran far away."], "the rest continues below at once"

    shown = await settled(channel, [renderer], timeout=120)

    assert shown == ["Story ", "about a fox who ran far away."], "the tidy edit landed after its refusals"
    assert channel.fail_next == []


async def test_a_file_is_never_uploaded_above_the_answer_it_belongs_to() -> None:
    # The edit budget is busy, so no placeholder goes out at once; the answer (with its file) ends first.
    channel = Channel(edits_per_window=2, window=0.5)
    await channel.budget.acquire([channel.edit_window], Priority.ROUTINE)
    await channel.budget.acquire([channel.edit_window], Priority.ROUTINE)

    await channel.render(
        channel.stream(
            TextDelta("Tomorrow brings rain."), OutgoingFile("answer.mp3", "audio/mpeg", b"mp3"), TurnDone(1, "x")
        )
    )

    calls = [h[0] for h in channel.history if h[0] in ("post", "upload")]
    assert calls.index("post") < calls.index("upload")
    assert channel.visible == ["Tomorrow brings rain."]


async def test_a_crowded_budget_posts_the_first_text_as_the_message_itself() -> None:
    channel = Channel(edits_per_window=2, window=0.5)
    await channel.budget.acquire([channel.edit_window], Priority.ROUTINE)
    await channel.budget.acquire([channel.edit_window], Priority.ROUTINE)  # edits are spent for now

    await channel.render(channel.stream(0.05, *words("Quick answer."), TurnDone(1, "x")))

    posts = [h[2] for h in channel.history if h[0] == "post"]
    assert posts[0].startswith("Quick"), "no placeholder: the first text is the first call"
    assert channel.visible == ["Quick answer. "]


@pytest.mark.parametrize(("first_word_after", "first_post"), [(0.2, "Quick"), (1.5, "▌")])
async def test_where_edits_are_scarce_a_first_word_within_the_wait_is_posted_as_the_message_itself(
    first_word_after: float, first_post: str
) -> None:
    # Slack waits up to a second (chat.update counts for the whole workspace): a placeholder and its first
    # edit cost two calls where the first text costs one; a model slower than that gets the placeholder.
    channel = Channel(first_text_wait=1.0)

    await channel.render(channel.stream(first_word_after, *words("Quick answer."), TurnDone(1, "x")))

    posts = [h[2] for h in channel.history if h[0] == "post"]
    assert posts[0].startswith(first_post)
    assert channel.visible == ["Quick answer. "]


async def test_a_new_status_line_shows_without_waiting_for_the_routine_interval() -> None:
    channel = Channel(edits_per_window=5, window=10.0)  # a routine edit only every 2 s

    await channel.render(
        channel.stream(
            TextDelta("Let"),
            0.05,
            TextDelta(" me look."),
            0.05,
            StatusUpdate("Searching the web…"),
            0.3,
            StatusUpdate(""),
            TextDelta(" Found it."),
            TurnDone(1, "x"),
        )
    )

    assert any("_Searching the web…_" in h[2] for h in channel.history if h[0] == "edit")
    assert channel.visible == ["Let me look. Found it."]


async def test_a_network_failure_during_an_edit_does_not_lose_the_answer() -> None:
    channel = Channel()
    channel.fail_next = [ConnectionResetError("connection reset by peer")]

    await channel.render(channel.stream(*words("still delivered"), TurnDone(1, "x")))

    assert channel.visible == ["still delivered "]


async def test_a_message_deleted_just_before_the_final_edit_is_posted_again() -> None:
    channel = Channel()
    renderer = channel.renderer()

    async def events() -> AsyncIterator[TurnEvent]:
        yield TextDelta("the whole answer")
        await channel.clock.sleep(0.1)  # shown with the marker by now
        channel.fail_next = [DeliveryError("Unknown Message", gone=True)]
        yield TurnDone(1, "the whole answer")

    await channel.run(renderer.render(events()))

    assert channel.visible[-1] == "the whole answer"
    assert channel.messages[renderer.parts[-1]] == "the whole answer"


async def test_a_long_error_note_never_pushes_a_message_over_the_limit() -> None:
    channel = Channel(max_chars=2000)
    text = "x " * 895  # fills a message: no room left for the note
    note = "The model service could not take this request: " + "the context is too long " * 20

    await channel.render(channel.stream(TextDelta(text), 0.02, TurnError(note, 1)))

    assert all(len(m) <= 2000 for m in channel.visible)
    assert channel.visible == [text, channel.visible[1]]
    assert channel.visible[1].startswith("⚠ The model service could not take")
