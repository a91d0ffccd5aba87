"""The terminal chat's conversation: kept across a restart and a /signout, started afresh by /new.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.terminal_helpers import (
    ASSISTANT,
    STAMP,
    chat,
    user_texts,
)


def test_the_conversation_survives_a_restart(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Nice to meet you, Ada."), Reply("Your name is Ada."))

    first = chat(openai_fake, workdir, "my name is Ada")
    second = chat(openai_fake, workdir, "what is my name?", "/history")

    assert first.replies[0] == ASSISTANT + "Nice to meet you, Ada.\n"
    assert second.replies[0] == ASSISTANT + "Your name is Ada.\n"
    seen = openai_fake.last_messages()
    assert user_texts(seen) == ["my name is Ada", "what is my name?"]
    assert any("Nice to meet you, Ada." in m["content"] for m in seen if m["role"] == "assistant")
    history = second.replies[1].splitlines()
    assert all(STAMP.match(line) for line in history), "each line starts with its local time"
    assert [STAMP.sub("", line) for line in history] == [
        "you: my name is Ada",
        "assistant: Nice to meet you, Ada.",
        "you: what is my name?",
        "assistant: Your name is Ada.",
    ]
    for session in (first, second):
        session.assert_no_secret_or_traceback()


def test_signout_of_a_terminal_that_never_signed_in_keeps_everything(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Noted, Ada."), Reply("You are Ada."))

    first = chat(openai_fake, workdir, "/settings name Ada Lovelace", "my name is Ada", "/signout")
    second = chat(openai_fake, workdir, "who am I?", "/history", "/settings")

    assert "nothing to sign out of" in first.replies[2]
    history = second.replies[1]
    assert "I call you Ada Lovelace." in second.replies[2], "the name saved before /signout is still yours"
    # Still the same person and the same conversation: the model sees the earlier turn, /history shows it.
    assert user_texts(openai_fake.last_messages()) == ["my name is Ada", "who am I?"]
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: my name is Ada",
        "assistant: Noted, Ada.",
        "you: who am I?",
        "assistant: You are Ada.",
    ]


def test_new_starts_a_clean_context(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Boats float."), Reply("Trains roll."))

    session = chat(openai_fake, workdir, "let us talk about boats", "/new", "let us talk about trains", "/history")

    boats, started, trains, history, _at_exit = session.replies
    assert (boats, trains) == (ASSISTANT + "Boats float.\n", ASSISTANT + "Trains roll.\n")
    assert started == "Started a new conversation.\n"
    assert user_texts(openai_fake.last_messages()) == ["let us talk about trains"]
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: let us talk about trains",
        "assistant: Trains roll.",
    ]
