"""The terminal chat with odd input: /history counts out of range, escape sequences, invalid UTF-8.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.terminal_helpers import (
    ASSISTANT,
    STAMP,
    Session,
    chat,
    environment,
    user_texts,
)

# -- bad input ---------------------------------------------------------------------------

NOT_A_COUNT = (
    "“{}” is not a number of messages: give one from 1 to 200, e.g. /history 50 (just /history shows the last 20).\n"
)


def test_history_takes_a_count_from_1_to_200_and_tz_any_case(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Noted."))
    odd_counts = ["²", "99999999999999999999999", "abc", "-3", "0", "201"]

    session = chat(
        openai_fake,
        workdir,
        "remember the milk",
        *(f"/history {count}" for count in odd_counts),
        "/history 1",
        "/tz america/new_york",
        "/tz",
    )

    _answer, *refused, one, tz_set, tz_shown, _at_exit = session.replies
    assert refused == [NOT_A_COUNT.format(count) for count in odd_counts]
    assert [STAMP.sub("", line) for line in one.splitlines()] == ["assistant: Noted."]
    assert tz_set == "Time zone set to America/New_York.\n"
    assert tz_shown == "Your time zone is America/New_York.\n"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_escape_sequences_are_shown_not_obeyed(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("\x1b[2J\x1b]0;owned\x07 Cleared?"))

    session = chat(openai_fake, workdir, "say \x1b[31mred\x1b[0m please", "/history")

    answer, history, _at_exit = session.replies
    assert "\x1b" not in session.stdout and "\x07" not in session.stdout
    assert answer == ASSISTANT + "␛[2J␛]0;owned␇ Cleared?\n"
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: say ␛[31mred␛[0m please",
        "assistant: ␛[2J␛]0;owned␇ Cleared?",
    ]
    assert user_texts(openai_fake.last_messages()) == ["say \x1b[31mred\x1b[0m please"], "stored as typed"
    session.assert_no_secret_or_traceback()


def test_invalid_utf8_on_stdin_is_replaced_not_a_crash(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Café it is."))
    data_dir = workdir / "data"

    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--transcript"],
        input=b"caf\xe9 au lait\n/what\xff\xfe\n",
        capture_output=True,
        cwd=workdir,
        env=environment(data_dir, OPENAI_BASE_URL=openai_fake.base_url),
        timeout=60,
    )
    session = Session(result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8"), data_dir)

    answer, unknown, _at_exit = session.replies
    assert answer == ASSISTANT + "Café it is.\n"
    assert user_texts(openai_fake.last_messages()) == ["caf\ufffd au lait"]
    assert unknown == "Unknown command /what\ufffd\ufffd; /help lists them.\n"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()
