"""The terminal chat when something fails: the model, its endpoint, the key, the database; one line each.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future
from functools import partial
from pathlib import Path

import pytest

from tests.fakes.openai_server import Error, FakeOpenAI, Reply
from tests.terminal_helpers import (
    ASSISTANT,
    PROMPT,
    UNREACHABLE,
    Session,
    chat,
    closed_port,
    run_bot,
    started_together,
)


@pytest.fixture(scope="module", autouse=True)
def other_commands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Session]]]:
    """The chats that never reach the fake, started at once when the module begins."""
    unreachable = f"http://127.0.0.1:{closed_port()}/v1"
    yield from started_together({
        "chat without a key": partial(
            run_bot, "chat --transcript", tmp_path_factory.mktemp("no-key"), lines=["hello"], OPENAI_API_KEY=None
        ),
        "chat with an unreachable endpoint": partial(
            run_bot,
            "chat --transcript",
            tmp_path_factory.mktemp("unreachable"),
            lines=["hello?", "still there?"],
            OPENAI_BASE_URL=unreachable,
            OPENAI_MAX_RETRIES="0",
        ),
    })  # fmt: skip


def test_a_model_failure_is_one_line_and_the_chat_goes_on(openai_fake: FakeOpenAI, workdir: Path) -> None:
    # The client retries a 500 twice (its default) before giving up: three failures in a row.
    openai_fake.queue(Error(500, "upstream exploded"), Error(500), Error(500), Reply("I am back."))

    session = chat(openai_fake, workdir, "are you there?", "and now?", "/history")

    failed, recovered, history, _at_exit = session.replies
    assert failed == ASSISTANT + "\n⚠ The model service failed (HTTP 500); try again shortly.\n"
    assert recovered == ASSISTANT + "I am back.\n"
    assert len(openai_fake.chat_requests()) == 4
    assert "you: are you there?" in history, "the question is kept even though the model failed"
    assert "assistant (failed: The model service failed (HTTP 500); try again shortly.): \n" in history, (
        "with its reason"
    )
    assert "upstream exploded" not in session.stdout
    assert "model call failed" in session.log, "the owner finds the failure in the log"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_an_unreachable_model_endpoint_is_one_clear_line(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["chat with an unreachable endpoint"].result()

    hello, still_there, _at_exit = session.replies
    assert hello == ASSISTANT + "\n" + UNREACHABLE
    assert still_there == ASSISTANT + "\n" + UNREACHABLE, "the chat keeps going"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_a_missing_api_key_stops_with_one_clear_line(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["chat without a key"].result()

    assert session.returncode == 2
    assert len(session.problems) == 1
    assert session.problems[0].startswith("captainslog: OPENAI_API_KEY is not set")
    # Started in a folder without a .env (the usual reason): it says so.
    assert session.problems[0].endswith(
        f"There is no .env in {session.data_dir.parent}: run captainslog from its folder."
    )
    assert PROMPT not in session.stdout, "the chat never started"
    assert "Traceback" not in session.stdout + session.stderr
    assert not session.data_dir.exists(), "a failed start leaves no data folder or log file behind"


def test_an_unexpected_error_is_one_line_and_the_chat_goes_on(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Hello."))
    first = chat(openai_fake, workdir, "hello")
    with sqlite3.connect(first.data_dir / "captainslog.db") as connection:
        connection.execute("DROP TABLE identities")  # the database breaks under the running program

    session = chat(openai_fake, workdir, "hello again", "/help")

    failed, help_text, _at_exit = session.replies
    assert failed == ASSISTANT + "\n⚠ Something went wrong with that (OperationalError); the details are in the log.\n"
    assert help_text.startswith("Commands:\n"), "the chat goes on"
    assert "Traceback" in session.log and "no such table: identities" in session.log, "the details are in the log"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()
