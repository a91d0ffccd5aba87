"""The terminal chat's first session: /help, a streamed answer, a tool call, piped input and output, access.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.terminal_helpers import (
    ASSISTANT,
    PROMPT,
    chat,
    run_bot,
    user_texts,
)


def test_a_first_session_help_then_a_streamed_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Good morning! The kettle is on."))

    session = chat(openai_fake, workdir, "/help", "/nonsense", "good morning")

    help_text, unknown, answer, _at_exit = session.replies
    assert session.stdout.startswith("CaptainsLog — type a message, or /help. Ctrl-D to leave.\n")
    assert help_text.startswith("Commands:\n")
    own, core = help_text.split("The assistant's commands, as on Discord and Slack:\n")
    assert [line.split()[0] for line in own.splitlines()[1:]] == [
        "/new",
        "/history",
        "/forget",
        "/tz",
        "/help",
        "/quit",
    ]
    # The core's commands the terminal does not answer itself (its /new, /forget and /help come first).
    assert [line.split()[0] for line in core.splitlines()] == [
        "/image",
        "/settings",
        "/signout",
        "/account",
        "/export",
        "/summary",
        "/speak",
        "/reminders",
        "/memory",
        "/forget-me",
        "/export-data",
    ]
    assert unknown == "Unknown command /nonsense; /help lists them.\n"
    assert answer == ASSISTANT + "Good morning! The kettle is on.\n"
    assert len(openai_fake.chat_requests()) == 1, "commands never reach the model"
    assert user_texts(openai_fake.last_messages()) == ["good morning"]
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_piped_in_and_out_prints_only_the_answers(openai_fake: FakeOpenAI, workdir: Path) -> None:
    # `echo … | captainslog chat > answers.txt`: no banner, no prompts, no labels in the file.
    openai_fake.queue(Reply("Bonjour."), Reply("Au revoir."))

    session = run_bot(
        "chat", workdir, lines=["say hello in French", "and goodbye"], OPENAI_BASE_URL=openai_fake.base_url
    )

    assert session.returncode == 0 and session.stderr == "", session.stderr
    assert session.stdout == "Bonjour.\nAu revoir.\n"


def test_piped_out_keeps_long_lines_whole_and_what_is_happening_on_stderr(
    openai_fake: FakeOpenAI, workdir: Path
) -> None:
    # `captainslog chat > answer.txt`: the file holds the answer as written; "… calculating" is not the answer.
    long_line = " ".join(["all hands on deck"] * 12)  # 215 characters, one line
    openai_fake.queue(ToolCalls([("calculate", {"expression": "6 * 7"})]), Reply(long_line))

    session = run_bot(
        "chat", workdir, lines=["what is six times seven?"], OPENAI_BASE_URL=openai_fake.base_url, COLUMNS=None
    )

    assert session.returncode == 0
    assert session.stdout == long_line + "\n"
    assert [line.startswith("… ") for line in session.problems] == [True], session.stderr


def test_a_transcript_of_piped_input_shows_what_was_typed(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Bonjour."))

    session = chat(openai_fake, workdir, "say hello in French")

    lines = session.stdout.splitlines()
    typed = lines.index(PROMPT + "say hello in French")  # after the banner and the web app's address
    assert lines[typed + 1] == ASSISTANT + "Bonjour."


def test_an_empty_allowed_accounts_keeps_the_terminal_out_too(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = chat(openai_fake, workdir, "hello", ALLOWED_ACCOUNTS="")

    assert "private" in session.replies[0], session.stdout
    assert openai_fake.chat_requests() == [], "the model never sees a refused message"


def test_a_tool_call_shows_what_is_happening_then_the_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "1234 * 5678"})], text="Let me work that out."),
        Reply("It is 7,006,652."),
    )

    session = chat(openai_fake, workdir, "what is 1234 times 5678?")

    answer = session.replies[0]
    assert answer.startswith(ASSISTANT + "Let me work that out.\n… Calculating…\n")
    assert answer.rstrip().endswith("It is 7,006,652.")
    tool_result = openai_fake.last_messages()[-1]
    assert tool_result["role"] == "tool" and tool_result["content"] == "1234 * 5678 = 7006652"
    session.assert_no_secret_or_traceback()
