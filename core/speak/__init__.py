"""`speak`: messages the assistant starts itself, delivered once and kept in the conversation's history."""

from core.speak.compose import Composer
from core.speak.service import Refusal, Speak, Spoken, Unreachable, fallback_note
from core.speak.wiring import build_speak

__all__ = ["Composer", "Refusal", "Speak", "Spoken", "Unreachable", "build_speak", "fallback_note"]
