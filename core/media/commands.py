"""Voice out: /speak reads the last answer aloud; /settings voice on|off sends every answer also as speech."""

from __future__ import annotations

import logging
import re

from core.chat import ChatService
from core.chat.turn import VOICE_SETTING
from core.commands import Command, CommandOption, CommandReply, CommandRequest, setting_hint
from core.identity.profile import Profiles
from core.media.voice import Speaker, VoiceError

log = logging.getLogger(__name__)

_VOICE = re.compile(r"^\s*voice\s*[:= ]\s*(on|off)\s*$", re.IGNORECASE)
NOTHING_TO_SAY = "There is no answer here yet for me to read aloud."


class VoiceCommands:
    """Handlers of /speak and of the voice option of /settings (which wraps the /settings before it)."""

    def __init__(
        self, *, chat: ChatService, speaker: Speaker, profiles: Profiles, settings_command: Command | None
    ) -> None:
        self.chat = chat
        self.speaker = speaker
        self.profiles = profiles
        self.wrapped_settings = settings_command

    async def speak(self, request: CommandRequest) -> CommandReply:
        """The newest answer in this conversation, as audio."""
        answers = [m for m in await self.chat.history(request.place, limit=20) if m.role == "assistant" and m.content]
        if not answers:
            return CommandReply(NOTHING_TO_SAY, private=True)
        try:
            speech = await self.speaker.speak(answers[-1].content)
        except VoiceError as exc:
            return CommandReply(exc.user_message, private=True)
        return CommandReply(speech.note or "Here is my last answer, read aloud.", files=speech.files)

    async def settings(self, request: CommandRequest) -> CommandReply:
        options = {k: v for k, v in request.options.items() if v and v.strip()}
        value = options.pop("voice", "").strip().lower()
        for key, typed in list(options.items()):  # "voice on" typed into another option (one-line platforms)
            match = _VOICE.match(typed)
            if match:
                del options[key]
                value = match.group(1).lower()
        if not value:
            current = await self._current(request)
            if self.wrapped_settings is None:
                return CommandReply(current, private=True)
            reply = await self.wrapped_settings.handler(CommandRequest(request.identity, request.place, options))
            if options:
                return reply
            return CommandReply(f"{reply.text}\n{current}", reply.files, private=True)
        if value not in ("on", "off"):
            return CommandReply(VOICE_HELP, private=True)
        admission = await self.chat.people.admit(request.identity)
        assert admission.user is not None  # CommandSet.run admitted the caller
        await self.profiles.update_settings(admission.user.id, {VOICE_SETTING: value})
        await self.chat.people.changed()
        return CommandReply(
            "I'll send every answer also as speech." if value == "on" else "Answers come as text only again.",
            private=True,
        )

    async def _current(self, request: CommandRequest) -> str:
        """The voice setting now, and how to change it on the caller's platform."""
        admission = await self.chat.people.admit(request.identity)
        on = admission.user is not None and admission.user.settings.get(VOICE_SETTING) == "on"
        if on:
            return f"Every answer also comes as speech. Turn it off with {setting_hint(request.identity.platform, 'voice', 'off')}."
        return f"Answers come as text only. Add speech with {setting_hint(request.identity.platform, 'voice', 'on')}; /speak reads the last answer."


VOICE_HELP = (
    "Voice: /settings voice on (every answer also as speech) or /settings voice off; /speak reads the last answer."
)


def voice_commands(handlers: VoiceCommands) -> list[Command]:
    """/speak, and /settings with a voice option added to the one it replaces."""
    previous = handlers.wrapped_settings.options if handlers.wrapped_settings is not None else ()
    description = handlers.wrapped_settings.description if handlers.wrapped_settings is not None else "Your settings"
    return [
        Command("speak", "Read my last answer here aloud", handlers.speak, slow=True, usage="/speak"),
        Command(
            "settings",
            description.rstrip(")") + ", voice)" if description.endswith(")") else description,
            handlers.settings,
            options=(*previous, CommandOption("voice", "Also send answers as speech: on or off")),
            usage="/settings voice on",
        ),
    ]
