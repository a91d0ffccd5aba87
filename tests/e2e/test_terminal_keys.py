"""The terminal chat at the keyboard: the real line editor (prompt_toolkit) fed through a pipe.

prompt_toolkit's own test support stands in for the terminal: ``create_pipe_input()``
receives the bytes a terminal would send (a bracketed paste, Esc+Enter, Ctrl-C),
``DummyOutput`` swallows the editor's drawing. The chat runs on a real
ChatService, database and OpenAI client against the loopback fake.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from adapters.terminal import TerminalChat
from adapters.terminal.lines import PromptLines
from core.commands import CommandSet
from core.db.database import Database
from core.llm import OpenAIModel
from core.tools.registry import ToolBase, ToolContext, ToolRegistry, ToolResult
from core.types import ConversationRef, OutgoingFile
from tests.conftest import builtin_tools_for_tests, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Hang, Reply, ToolCalls

PLACE = ConversationRef("terminal", "local", "me")
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
ENTER, ALT_ENTER, CTRL_C, CTRL_D = "\r", "\x1b\r", "\x03", "\x04"


def pasted(text: str) -> str:
    """What a terminal with bracketed paste sends when ``text`` is pasted."""
    return PASTE_START + text + PASTE_END


async def until(condition: Callable[[], Any], what: str) -> None:
    """Wait for ``condition`` (a generous limit only so that a broken chat fails instead of hanging)."""
    for _ in range(1500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@dataclass
class Keyboard:
    """The chat running on a pipe for a keyboard; what it printed is in :attr:`screen`."""

    keys: PipeInput
    console: Console
    task: asyncio.Task[None]

    def type(self, text: str) -> None:
        self.keys.send_text(text)

    @property
    def screen(self) -> str:
        return self.console.file.getvalue()  # type: ignore[attr-defined]

    async def leave(self) -> None:
        """Ctrl-D at the prompt; the chat ends by itself."""
        self.type(CTRL_D)
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as keys:
        yield keys


@asynccontextmanager
async def terminal(chat: Any, keys: PipeInput, files: Path, **options: Any) -> AsyncIterator[Keyboard]:
    """``options`` go to :class:`TerminalChat` (``commands``, ``tasks`` …)."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    lines = PromptLines.create(input=keys, output=DummyOutput())
    task = asyncio.create_task(
        TerminalChat(chat, user="me", console=console, files_dir=files, lines=lines, **options).run()
    )
    keyboard = Keyboard(keys, console, task)
    try:
        yield keyboard
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def user_texts(fake: FakeOpenAI) -> list[str]:
    """The user messages of the last model request, without their time stamps."""
    return [m["content"].split("]\n", 1)[1] for m in fake.last_messages() if m["role"] == "user"]


async def test_a_pasted_snippet_is_one_message_and_alt_enter_adds_a_line(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, pipe: PipeInput, tmp_path: Path
) -> None:
    openai_fake.queue(Reply("One snippet received."), Reply("Two lines received."), Reply("All of it."))
    snippet = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))"
    long_paste = "".join(f"{n:05d} " for n in range(1667))[:10_000]
    chat = make_chat_service(database, model)

    async with terminal(chat, pipe, tmp_path / "files") as keyboard:
        keyboard.type(pasted(snippet) + ENTER)
        await until(lambda: "One snippet received." in keyboard.screen, "the answer to the paste")
        keyboard.type("first line" + ALT_ENTER + "second line" + ENTER)
        await until(lambda: "Two lines received." in keyboard.screen, "the answer to two lines")
        keyboard.type(pasted(long_paste) + ENTER)
        await until(lambda: "All of it." in keyboard.screen, "the answer to the long paste")
        await keyboard.leave()

    assert len(openai_fake.chat_requests()) == 3, "one model call per message, not per pasted line"
    assert user_texts(openai_fake) == [snippet, "first line\nsecond line", long_paste]
    stored = [m.content for m in await chat.history(PLACE) if m.role == "user"]
    assert stored == [snippet, "first line\nsecond line", long_paste]
    assert len(stored[2]) == 10_000, "a long paste arrives whole"


async def test_ctrl_c_stops_the_answer_keeps_it_partial_and_returns_to_the_prompt(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, pipe: PipeInput, tmp_path: Path
) -> None:
    story = " ".join(f"word{n}" for n in range(200))
    openai_fake.queue(Reply(story, delay=0.05), Reply("Still here."))
    chat = make_chat_service(database, model)

    async with terminal(chat, pipe, tmp_path / "files") as keyboard:
        keyboard.type("tell me a long story" + ENTER)
        await until(lambda: "word3" in keyboard.screen, "the story to start")
        keyboard.type(CTRL_C)
        await until(lambda: "Stopped." in keyboard.screen, "the stop notice")
        keyboard.type("are you there?" + ENTER)
        await until(lambda: "Still here." in keyboard.screen, "the next answer")
        await keyboard.leave()

    assert keyboard.task.exception() is None
    answers = [m for m in await chat.history(PLACE) if m.role == "assistant"]
    assert [m.status for m in answers] == ["partial", "complete"]
    kept = answers[0].content
    assert kept.startswith("word0 word1 word2 word3") and "word199" not in kept, "stored as far as it went"
    assert "⏹ Stopped. What was written so far is kept (partial) in /history." in keyboard.screen
    assert keyboard.screen.count("assistant › ") == 2
    assert "Still here." in keyboard.screen.split("Stopped.")[1]


async def test_keys_typed_during_an_answer_wait_for_the_next_prompt(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, pipe: PipeInput, tmp_path: Path
) -> None:
    openai_fake.queue(Reply("slow answer " * 20, delay=0.02), Reply("Second."))
    chat = make_chat_service(database, model)

    async with terminal(chat, pipe, tmp_path / "files") as keyboard:
        keyboard.type("first" + ENTER)
        await until(lambda: "slow answer" in keyboard.screen, "the first answer to start")
        keyboard.type("typed ahead" + ENTER)
        await until(lambda: "Second." in keyboard.screen, "the answer to the typed-ahead message")
        await keyboard.leave()

    first_answer = keyboard.screen.split("assistant › ")[1]
    assert "typed ahead" not in first_answer, "keystrokes never mix into a streaming answer"
    assert [m.content for m in await chat.history(PLACE) if m.role == "user"] == ["first", "typed ahead"]


async def test_ctrl_c_at_the_prompt_leaves_cleanly(
    database: Database, model: OpenAIModel, pipe: PipeInput, tmp_path: Path
) -> None:
    chat = make_chat_service(database, model)

    async with terminal(chat, pipe, tmp_path / "files") as keyboard:
        keyboard.type("/help" + ENTER)
        await until(lambda: "Keys:" in keyboard.screen, "the help")
        keyboard.type(CTRL_C)
        await asyncio.wait_for(keyboard.task, 30)

    assert keyboard.task.exception() is None
    assert "Esc+Enter or Alt+Enter starts a new line" in keyboard.screen, "/help tells how to write several lines"


async def test_ctrl_c_stops_a_core_command_and_a_second_one_skips_the_wait_at_leaving(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, pipe: PipeInput, tmp_path: Path
) -> None:
    openai_fake.queue_for("images", Hang(60))
    chat = make_chat_service(database, model)
    commands = CommandSet(chat, model)

    async with terminal(chat, pipe, tmp_path / "files", commands=commands, tasks=chat.tasks) as keyboard:
        keyboard.type("/image a lighthouse at dawn" + ENTER)
        await until(lambda: openai_fake.requests_to("/v1/images/generations"), "the image to be asked for")
        keyboard.type(CTRL_C)
        await until(lambda: "Stopped /image." in keyboard.screen, "the stop notice")
        chat.tasks.spawn("after-answer work", lambda: asyncio.sleep(60))  # as memory extraction can take
        keyboard.type(CTRL_D)
        await until(lambda: "finishing up" in keyboard.screen, "the line saying it finishes up")
        keyboard.type(CTRL_C)
        await asyncio.wait_for(keyboard.task, 5)

    assert keyboard.task.exception() is None
    assert keyboard.screen.endswith("⏹ Stopped /image.\nfinishing up… (Ctrl-C to skip)\nskipped.\n")
    assert chat.tasks.running == 0, "what was left is cancelled, not abandoned"
    assert not (tmp_path / "files").exists(), "no image came"


class Drawing(ToolBase):
    """A tool that hands back a file under whatever name it was asked for."""

    name = "draw"
    description = "Draw a picture."
    parameters = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    status = "Drawing…"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        return ToolResult("drawn", files=(OutgoingFile(arguments["name"], "image/png", b"\x89PNG picture"),))


@pytest.mark.parametrize(
    ("asked", "saved"),
    [
        ("../../outside.png", "outside.png"),
        ("/etc/passwd", "passwd"),
        ("..", "file"),
        ("sub\\..\\..\\win.png", "win.png"),
        ("\x1b]0;title\x07pic.png", "]0;titlepic.png"),
    ],
)
async def test_generated_files_are_saved_under_a_checked_name_in_the_files_folder(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path, asked: str, saved: str
) -> None:
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True)
    (files / saved).write_bytes(b"an earlier file")
    openai_fake.queue(ToolCalls([("draw", {"name": asked})]), Reply("Here it is."))
    chat = make_chat_service(database, model, tools=ToolRegistry.of([*builtin_tools_for_tests(), Drawing()]))
    console = Console(file=io.StringIO(), width=300, color_system=None)
    said = iter(["draw it", None])

    async def read_line() -> str | None:
        return next(said)

    await TerminalChat(chat, user="me", console=console, files_dir=files, read_line=read_line).run()

    stem, dot, suffix = saved.rpartition(".")
    expected = files / (f"{stem}-2.{suffix}" if dot else f"{saved}-2")
    assert expected.read_bytes() == b"\x89PNG picture"
    assert (files / saved).read_bytes() == b"an earlier file", "an earlier file is never overwritten"
    assert sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file()) == sorted([saved, expected.name])
    assert f"file saved: {expected}\n" in console.file.getvalue()  # type: ignore[attr-defined]


async def test_invalid_utf8_typed_at_the_prompt_is_replaced_not_a_crash(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, pipe: PipeInput, tmp_path: Path
) -> None:
    openai_fake.queue(Reply("Café it is."))
    chat = make_chat_service(database, model)

    async with terminal(chat, pipe, tmp_path / "files") as keyboard:
        pipe.send_bytes(b"/what\xff\r")  # the line editor decodes it as a lone surrogate
        await until(lambda: "Unknown command" in keyboard.screen, "the unknown command")
        pipe.send_bytes(b"caf\xe9 au lait\r")
        await until(lambda: "Café it is." in keyboard.screen, "the answer")
        await keyboard.leave()

    assert keyboard.task.exception() is None
    assert "Unknown command /what\ufffd; /help lists them." in keyboard.screen
    assert [m.content for m in await chat.history(PLACE) if m.role == "user"] == ["caf\ufffd au lait"]


async def test_a_planted_link_in_the_files_folder_is_not_followed(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True)
    (files / "picture.png").symlink_to(tmp_path / "outside.png")  # dangling: "does not exist" to a naive check
    openai_fake.queue(ToolCalls([("draw", {"name": "picture.png"})]), Reply("Here it is."))
    chat = make_chat_service(database, model, tools=ToolRegistry.of([*builtin_tools_for_tests(), Drawing()]))
    said = iter(["draw it", None])

    async def read_line() -> str | None:
        return next(said)

    console = Console(file=io.StringIO(), width=300, color_system=None)
    await TerminalChat(chat, user="me", console=console, files_dir=files, read_line=read_line).run()

    assert not (tmp_path / "outside.png").exists(), "the file went through the link"
    assert (files / "picture-2.png").read_bytes() == b"\x89PNG picture"
