"""A message's attachments, read before the model answers: voice becomes text, images are looked at and kept.

The user's message is stored first as it came; then its recordings are
transcribed (the transcript becomes the message's text, marked as spoken) and
its images are kept in the database and described by the vision agent.  The
findings are stored with the message, so later turns, memory search and the
daily log know them without calling the agent again.  Nothing here ends a turn:
a refused recording or a failed look becomes a line for the user or the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from core.agents.vision import VisionAgent
from core.db.messages import update_user_media
from core.db.repositories import ContextRow, MessageRepository
from core.llm import Usage
from core.media.files import StoredFiles, reference_of
from core.media.incoming import read_attachments
from core.media.voice import Transcriber
from core.tokens import TokenCounter
from core.types import Attachment, AttachmentKind, OutgoingFile


@dataclass(frozen=True, slots=True)
class ReadMedia:
    """The stored user message as it now reads, and what to tell the user about it."""

    row: ContextRow
    lines: tuple[str, ...] = ()  # shown to the user at the top of the answer ("I heard: …")
    usage: Usage | None = None
    nothing_to_answer: str = field(default="")  # set when nothing usable came with the message


class MediaReader:
    """Transcribes, stores and looks at a message's attachments (built once in the container)."""

    def __init__(
        self,
        *,
        files: StoredFiles,
        transcriber: Transcriber,
        vision: VisionAgent,
        messages: MessageRepository,
        counter: TokenCounter,
    ) -> None:
        self.files = files
        self.transcriber = transcriber
        self.vision = vision
        self.messages = messages
        self.counter = counter

    @staticmethod
    def applies(attachments: tuple[Attachment, ...]) -> bool:
        """Whether the message carries something to read (an image or a recording with its bytes)."""
        return any(a.data and a.kind in (AttachmentKind.IMAGE, AttachmentKind.AUDIO) for a in attachments)

    @staticmethod
    def status(attachments: tuple[Attachment, ...]) -> str:
        """The line the user sees while the attachments are read."""
        kinds = {a.kind for a in attachments}
        return "Listening…" if AttachmentKind.AUDIO in kinds else "Looking at the image…"

    async def read(
        self,
        row: ContextRow,
        attachments: tuple[Attachment, ...],
        *,
        user_id: int,
        connection: AsyncConnection | None,
    ) -> ReadMedia:
        """Read the attachments of the stored user message ``row``; store and return the message as it now reads."""
        media = await read_attachments(row.content, attachments, transcriber=self.transcriber, vision=self.vision)
        described: list[dict] = []
        images = iter(media.findings)
        for attachment in attachments:
            entry = {
                "kind": attachment.kind.value,
                "filename": attachment.filename,
                "content_type": attachment.content_type,
            }
            if attachment.kind is AttachmentKind.IMAGE and attachment.data:
                file_id = await self.files.save(
                    user_id=user_id,
                    message_id=row.id,
                    kind="image",
                    source="user",
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    data=attachment.data,
                )
                entry["ref"] = reference_of(file_id)
                finding = next(images, None)
                if finding is not None:
                    entry["findings"] = finding.flagged()
            elif attachment.kind is AttachmentKind.AUDIO:
                entry["spoken"] = True
            described.append(entry)
        if media.heard:
            described.append({"kind": "transcript", "text": "\n\n".join(media.heard)})
        text = media.text
        await update_user_media(
            self.messages,
            row.id,
            content=text,
            token_count=self.counter.count(text),
            attachments=described,
            connection=connection,
        )
        lines = [f"_I heard: “{heard}”_" for heard in media.heard] + [f"_{n}_" for n in media.notices]
        has_images = any(a.kind is AttachmentKind.IMAGE and a.data for a in attachments)
        nothing = "" if (text.strip() or has_images) else (media.notices[0] if media.notices else "")
        updated = dataclasses.replace(row, content=text, token_count=self.counter.count(text), attachments=described)
        return ReadMedia(updated, tuple(lines), media.usage, nothing)

    async def keep_output(self, file: OutgoingFile, *, user_id: int, answer_id: int) -> None:
        """Keep an image the assistant made with its answer (the daily log shows it)."""
        if file.content_type.startswith("image/"):
            await self.files.save(
                user_id=user_id,
                message_id=answer_id,
                kind="image",
                source="assistant",
                filename=file.filename,
                content_type=file.content_type,
                data=file.data,
            )
