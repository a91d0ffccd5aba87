"""What a user's attachments add to their message, before the main model is called.

Voice recordings are transcribed first, so that their words become the text of
the message (and the question that goes with any image); then each image is
looked at by the vision agent.  Failures never end the turn: a refused or failed
recording gives a line for the user, a failed look gives the model a flagged
error result.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.agents.base import AgentResult, add_usage, failure
from core.agents.vision import SOURCE, VisionAgent
from core.llm import Usage
from core.media.voice import Transcriber, VoiceError
from core.types import Attachment, AttachmentKind


@dataclass(frozen=True, slots=True)
class IncomingMedia:
    """The message's text with its transcripts, the vision findings and lines for the user.

    ``heard`` are the transcripts, to show the user what was understood and to
    store the message with a mark that it was spoken; ``findings`` has one flagged
    result per image, in attachment order; ``usage`` sums every model call made.
    """

    text: str
    heard: tuple[str, ...] = ()
    findings: tuple[AgentResult, ...] = ()
    notices: tuple[str, ...] = ()
    usage: Usage | None = field(default=None)

    @property
    def spoken(self) -> bool:
        return bool(self.heard)


async def read_attachments(
    text: str, attachments: tuple[Attachment, ...], *, transcriber: Transcriber, vision: VisionAgent
) -> IncomingMedia:
    """Transcribe the audio attachments, then look at the images with the resulting words. Never raises."""
    heard: list[str] = []
    notices: list[str] = []
    usages: list[Usage | None] = []
    for attachment in attachments:
        if attachment.kind is not AttachmentKind.AUDIO:
            continue
        try:
            result = await transcriber.transcribe(attachment)
        except VoiceError as exc:
            notices.append(exc.user_message)
            continue
        heard.append(result.text)
        usages.append(result.usage)
    words = "\n\n".join(part for part in (text.strip(), *heard) if part)
    images = [a for a in attachments if a.kind is AttachmentKind.IMAGE and a.data]
    # Checked from the header first: an image over the size limit is never decoded, and the user is told.
    refusals = [await asyncio.to_thread(vision.refusal, image.data or b"") for image in images]
    for image, refusal in zip(images, refusals, strict=True):
        if refusal is not None:
            notices.append(f"I couldn't look at {image.filename}: {refusal[:1].lower()}{refusal[1:]}")
    looks = [
        _refused(refusal) if refusal else vision.look(image.data or b"", words)
        for image, refusal in zip(images, refusals, strict=True)
    ]
    findings = await asyncio.gather(*looks)
    usages.extend(f.usage for f in findings)
    return IncomingMedia(words, tuple(heard), tuple(findings), tuple(notices), add_usage(*usages))


async def _refused(reason: str) -> AgentResult:
    """The finding for an image refused from its header: the model knows why, no model call is made."""
    return failure(SOURCE, reason)
