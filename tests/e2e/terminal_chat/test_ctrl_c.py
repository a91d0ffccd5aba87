"""Ctrl-C in the terminal chat: it stops an answer (kept as partial), and at the prompt it leaves.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.terminal_helpers import (
    ASSISTANT,
    PROMPT,
    Running,
    replies_in,
)


def test_ctrl_c_stops_an_answer_then_leaves_at_the_prompt(openai_fake: FakeOpenAI, workdir: Path) -> None:
    story = " ".join(f"word{n}" for n in range(400))
    # Only the story is scripted: after-answer steps may call the model too, and get the fake's echo.
    openai_fake.queue(Reply(story, delay=0.05))
    chat = Running(openai_fake, workdir)

    chat.type("tell me a long story")
    chat.until(lambda screen: "word3" in screen, "the story starts")
    chat.process.send_signal(signal.SIGINT)
    chat.until(lambda screen: "Stopped." in screen, "the answer stops")
    chat.type("are you there?")
    chat.until(lambda screen: screen.count(PROMPT) == 3 and screen.endswith(PROMPT), "the next answer, then the prompt")
    chat.process.send_signal(signal.SIGINT)
    returncode = chat.process.wait(timeout=60)
    chat.reader.join(timeout=10)
    stderr = chat.process.stderr.read().decode()  # type: ignore[union-attr]

    assert returncode == 0 and stderr == "", stderr
    assert chat.text.endswith("\n" + PROMPT + "\n"), "the shell's prompt gets a line of its own"
    stopped, still_here, _at_exit = replies_in(chat.text)
    assert stopped.startswith(ASSISTANT + "word0 word1 word2 word3")
    assert stopped.endswith("\n⏹ Stopped. What was written so far is kept (partial) in /history.\n")
    assert still_here.startswith(ASSISTANT + "You said: ") and still_here.endswith("are you there?\n")
    with sqlite3.connect(chat.data_dir / "captainslog.db") as connection:
        answers = connection.execute(
            "SELECT status, content FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    assert [status for status, _ in answers] == ["partial", "complete"]
    assert answers[0][1].startswith("word0 word1 word2 word3") and "word399" not in answers[0][1]
