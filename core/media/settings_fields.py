"""The voice setting: every answer also comes as speech."""

from __future__ import annotations

from core.chat.turn import VOICE_SETTING
from core.identity.profile import Profiles
from core.settings.field import SettingField
from core.settings.switch import switch_field

VOICE_HELP = (
    "Voice: /settings voice on (every answer also as speech) or /settings voice off; /speak reads the last answer."
)


def voice_field(profiles: Profiles) -> SettingField:
    """``voice``: on sends every answer also as speech (``users.settings["voice"]``)."""
    return switch_field(
        profiles,
        name="voice",
        key=VOICE_SETTING,
        label="Voice",
        help="Also send answers as speech: on or off",
        when_on=lambda hint: f"Every answer also comes as speech. Turn it off with {hint('off')}.",
        when_off=lambda hint: f"Answers come as text only. Add speech with {hint('on')}; /speak reads the last answer.",
        saved_on="I'll send every answer also as speech.",
        saved_off="Answers come as text only again.",
        refusal=VOICE_HELP,
    )
