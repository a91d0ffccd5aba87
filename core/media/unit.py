"""Voice out as a feature unit: /speak, and the voice setting."""

from __future__ import annotations

from core.features import FeatureContext, FeatureParts
from core.identity.profile import Profiles
from core.media.commands import VoiceCommands, voice_commands
from core.media.settings_fields import voice_field
from core.media.voice import Speaker


class Voice:
    """/speak reads the last answer aloud; ``/settings voice on`` sends every answer also as speech."""

    name = "voice"

    def __init__(self, speaker: Speaker) -> None:
        """``speaker`` is the process's text-to-speech (its agents' ``speaker``, shared with the turn)."""
        self.speaker = speaker

    def install(self, context: FeatureContext) -> FeatureParts:
        profiles = Profiles(context.db, changed=context.people.changed)
        return FeatureParts(
            commands=voice_commands(VoiceCommands(chat=context.chat, speaker=self.speaker)),
            settings=[voice_field(profiles)],
        )
