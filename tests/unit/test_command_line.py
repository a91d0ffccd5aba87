"""One typed line (the terminal) spread over a core command's options, as the commands expect it."""

from __future__ import annotations

import pytest

from core.commands import Command, CommandOption, CommandReply, CommandRequest, options_from_line


async def _noop(_request: CommandRequest) -> CommandReply:
    return CommandReply("")


MEMORY = Command("memory", "", _noop, options=(CommandOption("words", ""),))
FORGET_ME = Command("forget-me", "", _noop, options=(CommandOption("confirm", ""),))
EXPORT = Command("export", "", _noop, options=(CommandOption("date", ""),))
SETTINGS = Command(
    "settings",
    "",
    _noop,
    options=tuple(CommandOption(name, "") for name in ("timezone", "name", "daily_time", "voice")),
)
HELP = Command("help", "", _noop)


@pytest.mark.parametrize(
    ("command", "line", "options"),
    [
        (MEMORY, "", {}),
        (MEMORY, "forget 2", {"words": "forget 2"}),
        (MEMORY, "my sister", {"words": "my sister"}),
        (FORGET_ME, "confirm:DELETE", {"confirm": "DELETE"}),
        (FORGET_ME, "confirm DELETE", {"confirm": "DELETE"}),
        (EXPORT, "2026-11-24", {"date": "2026-11-24"}),
        (EXPORT, " yesterday ", {"date": "yesterday"}),
        # The first option takes the rest; the settings commands read "daily-time 22:30" out of it.
        (SETTINGS, "daily-time 22:30", {"timezone": "daily-time 22:30"}),
        (SETTINGS, "timezone:Europe/Paris voice:on", {"timezone": "Europe/Paris", "voice": "on"}),
        (SETTINGS, "Europe/Paris", {"timezone": "Europe/Paris"}),
        (SETTINGS, "timezone Europe/Lisbon", {"timezone": "Europe/Lisbon"}),
        (SETTINGS, "name Ada Lovelace", {"timezone": "name Ada Lovelace"}),
        (HELP, "whatever", {}),
    ],
)
def test_a_typed_line_becomes_the_options(command: Command, line: str, options: dict[str, str]) -> None:
    assert options_from_line(command, line) == options
