"""Files that come with a user message: what kind each is, which are read, and the limits.

Decided once here for every platform.  An adapter describes the files a
message carries from the platform's metadata (name, content type, size) and
asks :class:`AttachmentPolicy` which to download; it downloads only those,
within the byte limit given, and shows the user :func:`skipped_note` for the
rest, in the same words on every platform.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from core.types import AttachmentKind

MB = 1024 * 1024

# What the vision models accept (png, jpeg, webp, non-animated gif).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif"})
# What the transcription models accept (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm).
AUDIO_TYPES = frozenset(
    {
        "audio/flac",
        "audio/x-flac",
        "audio/mpeg",
        "audio/mp3",
        "audio/mp4",
        "audio/x-m4a",
        "audio/m4a",
        "audio/ogg",
        "audio/opus",
        "audio/wav",
        "audio/x-wav",
        "audio/wave",
        "audio/webm",
    }
)
# Content types that say nothing: the file name decides.
_VAGUE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_KIND_WORDS = {AttachmentKind.IMAGE: "images", AttachmentKind.AUDIO: "audio", AttachmentKind.FILE: "files"}


def classify(filename: str, content_type: str | None) -> AttachmentKind:
    """The kind of a file from its content type, or from its name when the type says nothing."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in _VAGUE_TYPES:
        ctype = (mimetypes.guess_type(filename)[0] or "").lower()
    if ctype in IMAGE_TYPES:
        return AttachmentKind.IMAGE
    if ctype in AUDIO_TYPES:
        return AttachmentKind.AUDIO
    return AttachmentKind.FILE


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """How many files of one message are read, how large each may be, and which kinds the core reads."""

    max_count: int = 10
    max_image_bytes: int = 20 * MB
    max_audio_bytes: int = 25 * MB  # the transcription API's limit
    max_file_bytes: int = 20 * MB
    # Kinds the core reads: images go to the vision agent, audio to transcription.
    readable: frozenset[AttachmentKind] = frozenset({AttachmentKind.IMAGE, AttachmentKind.AUDIO})

    def max_bytes(self, kind: AttachmentKind) -> int:
        """The largest file of this kind that is downloaded."""
        if kind == AttachmentKind.IMAGE:
            return self.max_image_bytes
        if kind == AttachmentKind.AUDIO:
            return self.max_audio_bytes
        return self.max_file_bytes


class SkipReason(StrEnum):
    """Why a file of a message was not given to the assistant."""

    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    EXTERNAL = "external"
    DOWNLOAD_FAILED = "download_failed"


@dataclass(frozen=True, slots=True)
class OfferedFile:
    """A file as the platform describes it before anything is downloaded.

    ``size`` is the platform's figure in bytes (None when it gives none);
    ``external`` marks a link to a file kept elsewhere (a Slack remote file).
    ``ref`` is whatever the adapter needs to download it later.
    """

    filename: str
    content_type: str
    size: int | None = None
    external: bool = False
    ref: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A file to download: its kind, its normalised content type and the most bytes to read."""

    file: OfferedFile
    kind: AttachmentKind
    content_type: str
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Skipped:
    filename: str
    reason: SkipReason
    kind: AttachmentKind = AttachmentKind.FILE


@dataclass(slots=True)
class AttachmentPlan:
    """Which files of a message to download, and which were skipped (adapters add failed downloads)."""

    accepted: list[Accepted] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, item: Accepted, reason: SkipReason = SkipReason.DOWNLOAD_FAILED) -> None:
        """Record that an accepted file was not read after all (its download failed, or it was larger than said)."""
        self.skipped.append(Skipped(item.file.filename, reason, item.kind))


class AttachmentPolicy:
    """The one place that decides which files of a message are read."""

    def __init__(self, limits: AttachmentLimits | None = None) -> None:
        self.limits = limits or AttachmentLimits()

    def plan(self, files: Sequence[OfferedFile]) -> AttachmentPlan:
        """Sort a message's files into those to download and those skipped, in the message's order."""
        limits = self.limits
        plan = AttachmentPlan()
        for file in files:
            kind = classify(file.filename, file.content_type)
            if file.external:
                plan.skipped.append(Skipped(file.filename, SkipReason.EXTERNAL, kind))
            elif kind not in limits.readable:
                plan.skipped.append(Skipped(file.filename, SkipReason.UNSUPPORTED, kind))
            elif file.size is not None and file.size > limits.max_bytes(kind):
                plan.skipped.append(Skipped(file.filename, SkipReason.TOO_LARGE, kind))
            elif len(plan.accepted) >= limits.max_count:
                plan.skipped.append(Skipped(file.filename, SkipReason.TOO_MANY, kind))
            else:
                ctype = (file.content_type or "").split(";")[0].strip().lower()
                if ctype in _VAGUE_TYPES:
                    ctype = (mimetypes.guess_type(file.filename)[0] or "application/octet-stream").lower()
                plan.accepted.append(Accepted(file, kind, ctype, limits.max_bytes(kind)))
        return plan

    def skipped_note(self, skipped: Sequence[Skipped]) -> str:
        """One line per reason, telling the user which files the assistant did not read and why."""
        return skipped_note(skipped, self.limits)


def skipped_note(skipped: Sequence[Skipped], limits: AttachmentLimits | None = None) -> str:
    """The user-facing lines for skipped files (empty when nothing was skipped)."""
    limits = limits or AttachmentLimits()
    by_reason: dict[SkipReason, list[Skipped]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason, []).append(item)
    lines: list[str] = []
    unsupported = by_reason.get(SkipReason.UNSUPPORTED)
    if unsupported:
        readable = _join([_KIND_WORDS[k] for k in AttachmentKind if k in limits.readable]) or "nothing"
        lines.append(f"{_names(unsupported)} {_be(unsupported)} not supported yet: I can only read {readable}.")
    too_large = by_reason.get(SkipReason.TOO_LARGE)
    if too_large:
        caps = _join(
            [
                f"{_KIND_WORDS[kind]} up to {limits.max_bytes(kind) // MB} MB"
                for kind in AttachmentKind
                if any(item.kind == kind for item in too_large)
            ]
        )
        lines.append(f"{_names(too_large)} {_be(too_large)} too large: I read {caps}.")
    too_many = by_reason.get(SkipReason.TOO_MANY)
    if too_many:
        lines.append(
            f"I read at most {limits.max_count} files of one message, "
            f"so {_names(too_many)} {'was' if len(too_many) == 1 else 'were'} left out."
        )
    external = by_reason.get(SkipReason.EXTERNAL)
    if external:
        lines.append(f"{_names(external)} {_be(external)} stored outside the chat, so I can't open {_it(external)}.")
    failed = by_reason.get(SkipReason.DOWNLOAD_FAILED)
    if failed:
        lines.append(f"I couldn't download {_names(failed)}.")
    return "\n".join(lines)


def _names(items: Sequence[Skipped], shown: int = 3) -> str:
    names = [item.filename for item in items]
    rest = len(names) - shown
    if rest > 0:
        return f"{', '.join(names[:shown])} and {rest} more"
    return _join(names)


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _be(items: Sequence[Skipped]) -> str:
    return "is" if len(items) == 1 else "are"


def _it(items: Sequence[Skipped]) -> str:
    return "it" if len(items) == 1 else "them"
