"""Voice in and out: audio attachments become text, answers become speech.

Transcription takes flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav and webm files up
to 25 MB; both are checked before anything is uploaded, and a refusal comes
with a sentence for the user.  Speech takes at most 4,096 characters a call:
longer answers are read in a few parts and the rest is cut with a note.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

from core.llm import ModelError, OpenAIModel, Usage
from core.types import Attachment, OutgoingFile

log = logging.getLogger(__name__)

TRANSCRIBABLE = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
MAX_AUDIO_BYTES = 25 * 1024 * 1024
MAX_SPEECH_CHARS = 4096
# Extensions the service does not list but whose content it reads under a listed one.
_ALIASES = {"oga": "ogg", "opus": "ogg", "mpg": "mpeg"}
_BY_TYPE = {
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/m4a": "m4a",
    "video/mp4": "mp4",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}
_SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav"}


class VoiceError(Exception):
    """Voice could not be handled; ``user_message`` is one sentence to show the user."""

    def __init__(self, kind: str, user_message: str) -> None:
        super().__init__(f"{kind}: {user_message}")
        self.kind = kind
        self.user_message = user_message


def audio_format(attachment: Attachment) -> str | None:
    """The transcription format of ``attachment`` (from its name, else its type), or None."""
    suffix = PurePath(attachment.filename).suffix.lower().lstrip(".")
    suffix = _ALIASES.get(suffix, suffix)
    if suffix in TRANSCRIBABLE:
        return suffix
    return _BY_TYPE.get(attachment.content_type.split(";")[0].strip().lower())


def check_audio(attachment: Attachment) -> str:
    """Check format and size before any upload; returns the format or raises :class:`VoiceError`."""
    fmt = audio_format(attachment)
    if fmt is None:
        raise VoiceError(
            "unsupported",
            f"I can't listen to {attachment.filename or 'that file'}: voice messages must be one of "
            + ", ".join(TRANSCRIBABLE)
            + ".",
        )
    if len(attachment.data) > MAX_AUDIO_BYTES:
        size = len(attachment.data) / (1024 * 1024)
        raise VoiceError("too_large", f"That recording is too large ({size:.1f} MB); I can listen to at most 25 MB.")
    if not attachment.data:
        raise VoiceError("empty", "That recording is empty.")
    return fmt


@dataclass(frozen=True, slots=True)
class Heard:
    """The transcript of one recording: the text of the user's message, marked as spoken."""

    text: str
    usage: Usage | None = None


class Transcriber:
    """Turns audio attachments into text with ``TRANSCRIPTION_MODEL``."""

    def __init__(self, model: OpenAIModel, *, timeout: float = 60.0) -> None:
        self.model = model
        self.timeout = timeout

    async def transcribe(self, attachment: Attachment) -> Heard:
        """What was said in ``attachment``. Raises :class:`VoiceError` with a line for the user."""
        fmt = check_audio(attachment)
        stem = PurePath(attachment.filename).stem or "voice"
        try:
            transcript = await self.model.transcribe(
                attachment.data, f"{stem}.{fmt}", content_type=attachment.content_type, timeout=self.timeout
            )
        except ModelError as exc:
            log.warning("transcription failed: %s", exc)
            raise VoiceError("failed", f"I couldn't transcribe the voice message. {exc.user_message}") from exc
        text = transcript.text.strip()
        if not text:
            raise VoiceError("silent", "I couldn't hear any words in that recording.")
        return Heard(text, transcript.usage)


@dataclass(frozen=True, slots=True)
class Speech:
    """An answer read aloud: one audio file per part, and a note when the text was cut.

    The speech endpoint reports no tokens; ``characters`` (what was sent) is what it bills.
    """

    files: tuple[OutgoingFile, ...]
    note: str = ""
    characters: int = 0


class Speaker:
    """Reads answers aloud with ``SPEECH_MODEL`` in the configured voice.

    At most ``max_parts`` calls of 4,096 characters each are made per answer.
    """

    def __init__(
        self,
        model: OpenAIModel,
        *,
        voice: str = "alloy",
        response_format: str = "mp3",
        max_parts: int = 3,
        timeout: float = 60.0,
    ) -> None:
        if response_format not in _SPEECH_TYPES:
            raise ValueError(f"speech format must be one of {', '.join(_SPEECH_TYPES)}")
        self.model = model
        self.voice = voice
        self.response_format = response_format
        self.max_parts = max_parts
        self.timeout = timeout

    async def speak(self, text: str) -> Speech:
        """The audio of ``text``. Raises :class:`VoiceError` with a line for the user."""
        spoken = speakable(text)
        if not spoken:
            raise VoiceError("empty", "There is nothing to read aloud.")
        parts = split_for_speech(spoken, MAX_SPEECH_CHARS)
        note = ""
        if len(parts) > self.max_parts:
            parts = parts[: self.max_parts]
            note = "The spoken version stops early; the full answer is in the text."
        files: list[OutgoingFile] = []
        for number, part in enumerate(parts, 1):
            try:
                audio = await self.model.speak(
                    part, voice=self.voice, response_format=self.response_format, timeout=self.timeout
                )
            except ModelError as exc:
                log.warning("speech failed: %s", exc)
                raise VoiceError("failed", f"I couldn't read the answer aloud. {exc.user_message}") from exc
            suffix = f"-{number}" if len(parts) > 1 else ""
            files.append(
                OutgoingFile(f"answer{suffix}.{self.response_format}", _SPEECH_TYPES[self.response_format], audio)
            )
        return Speech(tuple(files), note, sum(len(p) for p in parts))


_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")
_URL = re.compile(r"<?https?://\S+>?")
_MARKS = re.compile(r"(\*\*|__|~~|`|^#+\s*|^>\s?)", re.MULTILINE)


def speakable(text: str) -> str:
    """``text`` without what sounds wrong read aloud: code blocks, link targets, markdown marks."""
    text = _FENCE.sub("(code omitted)", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("(link)", text)
    text = _MARKS.sub("", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def split_for_speech(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at paragraph, sentence or word ends."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
            cut = cut + 1 if cut >= limit // 2 else window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces
