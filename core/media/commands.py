"""Voice out: /speak reads the last answer aloud (``/settings voice on``, core/media/settings_fields.py, sends every
answer also as speech)."""

from __future__ import annotations

import logging

from core.chat import ChatService
from core.commands import Command, CommandReply, CommandRequest
from core.media.voice import Speaker, VoiceError

log = logging.getLogger(__name__)

NOTHING_TO_SAY = "There is no answer here yet for me to read aloud."


class VoiceCommands:
    """The handler of /speak."""

    def __init__(self, *, chat: ChatService, speaker: Speaker) -> None:
        self.chat = chat
        self.speaker = speaker

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


def voice_commands(handlers: VoiceCommands) -> list[Command]:
    """/speak."""
    return [Command("speak", "Read my last answer here aloud", handlers.speak, slow=True, usage="/speak")]
