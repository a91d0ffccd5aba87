"""Small pieces of the Slack adapter: option parsing, mentions, rate shares, notes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.mapping import addressed, dm_ref, is_direct, mentions, thread_ref, ts_to_datetime
from adapters.slack.surface import LIMITS, SLACK_UPDATE_LIMIT, TEXT_MAX, _italic
from adapters.slack.workspace import SlackRateLimits, Workspace
from core.commands import Command, CommandOption, CommandReply, CommandRequest, CommandSet, options_from_line
from core.identity.commands import GoogleParts, IdentityCommands, identity_commands
from core.memory.slash import MemorySlashCommands, memory_commands
from core.settings.registry import SettingsRegistry


async def _noop(_request: CommandRequest) -> CommandReply:
    return CommandReply("")


IMAGE = Command("image", "", _noop, options=(CommandOption("prompt", "", required=True),))
SETTINGS = Command("settings", "", _noop, options=(CommandOption("timezone", ""),))
TWO = Command("two", "", _noop, options=(CommandOption("first", ""), CommandOption("second", "")))
NONE = Command("help", "", _noop)


@pytest.mark.parametrize(
    ("command", "text", "options"),
    [
        (IMAGE, "a lighthouse at dawn, watercolour", {"prompt": "a lighthouse at dawn, watercolour"}),
        (IMAGE, "prompt engineering diagram", {"prompt": "prompt engineering diagram"}),
        (IMAGE, "prompt: a cat", {"prompt": "a cat"}),
        (IMAGE, "  ", {}),
        (SETTINGS, "timezone Europe/Paris", {"timezone": "Europe/Paris"}),
        (SETTINGS, "timezone:Europe/Paris", {"timezone": "Europe/Paris"}),
        (SETTINGS, "timezone = America/New_York", {"timezone": "America/New_York"}),
        (SETTINGS, "Europe/Paris", {"timezone": "Europe/Paris"}),
        (SETTINGS, "", {}),
        (TWO, "second:b first:a", {"first": "a", "second": "b"}),
        (TWO, "free text second:b", {"first": "free text", "second": "b"}),
        (NONE, "whatever", {}),
    ],
)
def test_parse_options(command: Command, text: str, options: dict[str, str]) -> None:
    assert options_from_line(command, text) == options


def test_mentions_and_places() -> None:
    assert mentions("<@UBOT> hi", "UBOT") and mentions("hey <@UBOT|bot>", "UBOT")
    assert not mentions("<@UBOTX> hi", "UBOT") and not mentions("hi", "")
    assert is_direct("im", "D1") and not is_direct("channel", "C1") and is_direct(None, "D1")


def test_ts_to_datetime() -> None:
    assert ts_to_datetime("1700000000.000100") == datetime.fromtimestamp(1700000000.0001, UTC)
    assert ts_to_datetime(None).tzinfo is UTC


def test_routine_interval_shares_the_update_window() -> None:
    workspace = Workspace("T1")
    assert workspace.routine_interval() == pytest.approx(60.5 / 48)
    for _ in range(20):  # twenty answers, each holding its final-edit slot
        assert workspace.update.try_reserve()
    workspace.editing_answers = 20
    assert workspace.routine_interval() == pytest.approx(60.5 * 20 / 28)
    assert Workspace("T2", SlackRateLimits(updates=1000)).routine_interval() == 1.0  # never below a second


def test_post_windows_are_per_channel() -> None:
    workspace = Workspace("T1")
    assert workspace.post_window("D1") is workspace.post_window("D1")
    assert workspace.post_window("D1") is not workspace.post_window("D2")


def test_every_rendered_part_fits_chat_update() -> None:
    # The splitter sizes each converted piece (with a reopened fence) to at most TEXT_MAX;
    # the closing fence, the marker and a status line or a note fit in what is left.
    assert LIMITS.max_chars - LIMITS.reserve <= TEXT_MAX <= SLACK_UPDATE_LIMIT - 300
    note = _italic("x" * 5000 + "\n" + "second line", 300)
    assert len(note) <= 300 and note.endswith("…_")
    assert _italic("a < b\n\nsecond", 300) == "_a &lt; b_\n_second_"


def test_the_manifest_declares_every_command_the_bot_registers() -> None:
    manifest = (Path(__file__).resolve().parents[2] / "adapters/slack/manifest.yaml").read_text()
    declared = re.findall(r"^\s*- command: /([\w-]+)", manifest, re.MULTILINE)
    # With Google configured the container adds the sign-in and Google commands (core/identity/commands.py).
    google = GoogleParts(None, None, None, None, None)  # type: ignore[arg-type]
    nothing: Any = None
    handlers = IdentityCommands(chat=nothing, linker=nothing, google=google)
    memory = [c.name for c in memory_commands(MemorySlashCommands(nothing, nothing, default_timezone="UTC"))]
    daily = [
        "export",
        "summary",
        "speak",
        "export-data",
        "reminders",
    ]  # core/daily/commands.py, core/media/commands.py, core/reminders/commands.py
    registered = {
        *CommandSet(None, None, SettingsRegistry(nothing)).commands,
        *(c.name for c in identity_commands(handlers)),
        *memory,
        *daily,
    }  # type: ignore[arg-type]
    assert sorted(declared) == sorted(registered)
    events = set(re.findall(r"^\s*- (app_mention|message\.\w+)\s*$", manifest, re.MULTILINE))
    assert events == {"app_mention", "message.im", "message.channels", "message.groups"}
    assert "socket_mode_enabled: true" in manifest


def test_the_slack_readme_lists_every_command_of_the_manifest() -> None:
    root = Path(__file__).resolve().parents[2] / "adapters/slack"
    declared = re.findall(r"^\s*- command: (/[\w-]+)", (root / "manifest.yaml").read_text(), re.MULTILINE)
    listed = re.findall(r"^\s*\| `(/[\w-]+)[^`]*` \|", (root / "README.md").read_text(), re.MULTILINE)
    assert listed == declared, "adapters/slack/README.md's command table must match manifest.yaml, in order"


def test_addressed_says_which_messages_are_for_the_assistant_from_the_payload_alone() -> None:
    dm = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "ts": "1.0", "text": "hi"}
    assert addressed(dm, "T1", "UBOT") == (dm_ref("T1", "D1"), "", False)
    in_thread = {**dm, "channel": "C1", "channel_type": "channel", "ts": "2.0", "thread_ts": "1.0"}
    assert addressed(in_thread, "T1", "UBOT") == (thread_ref("T1", "C1", "1.0"), "1.0", True)  # if the thread is ours
    assert addressed({**in_thread, "thread_ts": None}, "T1", "UBOT") is None  # channel chatter
    assert addressed({**in_thread, "text": "<@UBOT> hi"}, "T1", "UBOT") is None  # comes as app_mention
    assert addressed({**dm, "bot_id": "B1"}, "T1", "UBOT") is None
    assert addressed({**dm, "subtype": "channel_join"}, "T1", "UBOT") is None
    assert addressed({**dm, "subtype": "file_share"}, "T1", "UBOT") is not None
