"""A small feature, complete: the one docs/architecture.md walks through ("Adding a feature").

``/roll 2d6`` rolls dice for the person who asks, the model can roll through the ``roll_dice``
tool, and each person chooses the dice a bare ``/roll`` rolls with the ``dice`` setting.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.features import FeatureContext, FeatureParts
from core.identity.profile import Profiles
from core.settings.field import Asker, Invalid, SettingField
from core.tools.registry import ToolBase, ToolContext, ToolInputError

_DICE = re.compile(r"^\s*(\d{1,2})?\s*d\s*(\d{1,3})\s*$", re.IGNORECASE)
DEFAULT_DICE = "1d6"
DICE_SETTING = "dice"  # key in users.settings


def parse_dice(text: str) -> tuple[int, int]:
    """``"2d6"`` → (2, 6); ValueError with a sentence for the person when it is not dice."""
    match = _DICE.match(text)
    count, sides = (int(match.group(1) or 1), int(match.group(2))) if match else (0, 0)
    if not 1 <= count <= 20 or not 2 <= sides <= 100:
        raise ValueError(f"“{text.strip()[:20]}” is not dice I can roll: write e.g. 2d6 (1–20 dice of 2–100 sides).")
    return count, sides


class Roller:
    """Rolls dice with an injected random source (a seeded one in tests)."""

    def __init__(self, source: random.Random) -> None:
        self.source = source

    def roll(self, dice: str) -> str:
        count, sides = parse_dice(dice)
        faces = [self.source.randint(1, sides) for _ in range(count)]
        return (
            f"{count}d{sides}: {' + '.join(map(str, faces))} = {sum(faces)}" if count > 1 else f"1d{sides}: {faces[0]}"
        )


@dataclass
class RollDiceTool(ToolBase):
    """The model rolls for the person (``roll_dice``)."""

    roller: Roller
    name: str = "roll_dice"
    description: str = "Roll dice, e.g. '2d6', and get each face and the total."
    parameters: Any = None
    status: str = "Rolling…"

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {"dice": {"type": "string", "description": "e.g. '2d6' or 'd20'"}},
            "required": ["dice"],
        }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        try:
            return self.roller.roll(str(arguments.get("dice", "")))
        except ValueError as exc:
            raise ToolInputError(str(exc)) from exc


def dice_field(profiles: Profiles) -> SettingField:
    """``dice``: what a bare /roll rolls (``users.settings["dice"]``), checked like any dice."""

    async def parse(text: str, _asker: Asker) -> str:
        try:
            count, sides = parse_dice(text)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        return f"{count}d{sides}"

    async def write(user_id: int, value: str) -> None:
        await profiles.update_settings(user_id, {DICE_SETTING: value})

    return SettingField(
        name="dice",
        label="Dice",
        help="What /roll rolls when you name no dice, e.g. 2d6",
        parse=parse,
        read=lambda person: person.settings.get(DICE_SETTING),
        write=write,
        describe=lambda stored, _asker, hint: f"/roll rolls {stored or DEFAULT_DICE}. Change it with {hint('2d6')}.",
        saved=lambda value: f"/roll now rolls {value}.",
    )


class Dice:
    """The dice feature: the ``/roll`` command, the ``roll_dice`` tool and the ``dice`` setting."""

    name = "dice"

    def __init__(self, source: random.Random) -> None:
        self.roller = Roller(source)

    def install(self, context: FeatureContext) -> FeatureParts:
        async def roll(request: CommandRequest) -> CommandReply:
            chosen = request.options.get("dice", "").strip()
            if not chosen:
                person = (await context.chat.admit(request.identity)).user
                chosen = (person.settings.get(DICE_SETTING) if person else None) or DEFAULT_DICE
            try:
                return CommandReply(self.roller.roll(chosen))
            except ValueError as exc:
                return CommandReply(str(exc), private=True)

        command = Command(
            "roll", "Roll dice", roll, options=(CommandOption("dice", "Which dice, e.g. 2d6"),), usage="/roll 2d6"
        )
        profiles = Profiles(context.db, changed=context.people.changed)
        return FeatureParts(tools=[RollDiceTool(self.roller)], commands=[command], settings=[dice_field(profiles)])
