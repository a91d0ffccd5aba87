"""Plain types exchanged between the platform adapters and the core.

Nothing here knows about Discord, Slack or the terminal: an adapter maps its
platform's event to an :class:`IncomingMessage`, hands it to
``ChatService.turn`` and renders the :data:`TurnEvent` stream that comes back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.buttons import Button


@dataclass(frozen=True, slots=True)
class ConversationRef:
    """Where a conversation lives on a platform.

    ``thread`` is empty for a DM channel or a channel used as a whole; for a
    thread it is the platform's thread id (Discord thread channel, Slack thread_ts).
    """

    platform: str
    workspace: str
    channel: str
    thread: str = ""


@dataclass(frozen=True, slots=True)
class PlatformIdentity:
    """A user account on one platform (Discord user, Slack member, local terminal user)."""

    platform: str
    workspace: str
    user_id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        """``platform:workspace:user_id``, the form used by the allowlist setting."""
        return f"{self.platform}:{self.workspace}:{self.user_id}"


class AttachmentKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a user message, already downloaded by the adapter."""

    kind: AttachmentKind
    filename: str
    content_type: str
    data: bytes = field(repr=False, default=b"")
    url: str = ""


AttachmentFetcher = Callable[[], Awaitable[tuple["Attachment", ...]]]


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One user message, as the core sees it.

    ``fetch_attachments`` lets an adapter hand over the message at once and
    download its files only when the message's turn comes: the message keeps
    its place in line from its arrival (a photo sent just before a text is
    answered first).  The core calls it once, after deciding access.
    """

    conversation: ConversationRef
    author: PlatformIdentity
    text: str
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    platform_message_id: str = ""
    fetch_attachments: AttachmentFetcher | None = field(default=None, compare=False, repr=False)
    # Others than the author can read this place (a thread, a server channel): not a DM. A place
    # with a ``thread`` counts as shared whatever this says.
    shared_place: bool = False

    @property
    def shared(self) -> bool:
        """Whether other people can read (and write) where this message was sent."""
        return self.shared_place or bool(self.conversation.thread)


class MessageStatus(StrEnum):
    """Lifecycle of a stored message.

    ``streaming`` is an answer being written right now; if the process dies the
    row stays ``streaming`` and start-up recovery turns it into ``partial``.
    """

    STREAMING = "streaming"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


# -- events of one turn ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The user message is stored and the answer row exists; the model is about to be called."""

    conversation_id: int
    user_message_id: int
    answer_message_id: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    """More answer text, to append to what was shown."""

    text: str


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A short line about work in progress ("searching memory…"); empty text clears it."""

    text: str


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file the assistant produced (a generated image, speech)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    description: str = ""


@dataclass(frozen=True, slots=True)
class ButtonsOffered:
    """Buttons to show under the answer's last message (Undo under a reminder's confirmation)."""

    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class AnswerComplete:
    """The answer's text is final and is being stored; :class:`TurnDone` follows once it is.

    Renderers show the final text at this point: the database write (queued behind
    other turns' writes when many answer at once) need not hold it back.
    """

    answer_message_id: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message of a conversation as the history shows it (a plain record, not a database row)."""

    id: int
    role: str
    content: str
    status: str
    status_reason: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    forgotten_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TurnDone:
    """The answer is complete and stored."""

    answer_message_id: int
    text: str


@dataclass(frozen=True, slots=True)
class TurnError:
    """The turn ended early. ``message`` is safe to show to the user.

    Whatever text was streamed before stays shown and is stored as a partial answer.
    """

    message: str
    answer_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The author may not use this assistant; nothing was stored and no model was called."""

    message: str


TurnEvent = (
    TurnStarted
    | TextDelta
    | StatusUpdate
    | OutgoingFile
    | ButtonsOffered
    | AnswerComplete
    | TurnDone
    | TurnError
    | Refused
)
