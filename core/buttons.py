"""Buttons under a message the assistant posts: each one is a command the person could also type.

A button names a command of the :class:`core.commands.CommandSet` and its one-line
argument ("reminders", "snooze 12 20m"). The platform carries that as the button's
id (a Discord component's ``custom_id``, a Slack block's ``action_id``); a press is
read back with :func:`parse_action` and run as that command, with the same access
checks as a typed one. So every button has a typed twin, and a platform without
buttons (the terminal) can show the command instead.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "cl:"
# Discord's custom_id holds at most 100 characters (Slack's action_id 255).
MAX_ACTION = 100


@dataclass(frozen=True, slots=True)
class Button:
    """One button: what it says, and the command line it runs."""

    label: str
    command: str
    argument: str = ""

    def __post_init__(self) -> None:
        if len(self.action_id) > MAX_ACTION:
            raise ValueError(f"a button's action is at most {MAX_ACTION} characters: {self.action_id!r}")

    @property
    def action_id(self) -> str:
        """The id the platform carries and gives back on a press."""
        return f"{PREFIX}{self.command}:{self.argument}"

    @property
    def typed(self) -> str:
        """The command a person types for the same effect ("/reminders snooze 12 20m")."""
        return f"/{self.command} {self.argument}".strip()


def parse_action(action_id: str) -> tuple[str, str] | None:
    """(command, argument) of a press on one of our buttons; None for any other id."""
    if not action_id.startswith(PREFIX):
        return None
    command, _, argument = action_id[len(PREFIX) :].partition(":")
    return (command, argument) if command else None
