"""The core's one decision about files: kind, which are read, limits and the words the user sees."""

from __future__ import annotations

import pytest

from core.attachments import (
    MB,
    AttachmentLimits,
    AttachmentPolicy,
    OfferedFile,
    SkipReason,
    classify,
)
from core.types import AttachmentKind


@pytest.mark.parametrize(
    ("filename", "content_type", "kind"),
    [
        ("cat.png", "image/png", AttachmentKind.IMAGE),
        ("cat.JPG", "image/jpeg; charset=binary", AttachmentKind.IMAGE),
        ("photo.webp", "", AttachmentKind.IMAGE),  # no type: the name decides
        ("drawing.svg", "image/svg+xml", AttachmentKind.FILE),  # the vision models cannot read it
        ("voice-message.ogg", "audio/ogg", AttachmentKind.AUDIO),
        ("clip.m4a", "application/octet-stream", AttachmentKind.AUDIO),
        ("memo.webm", "audio/webm", AttachmentKind.AUDIO),
        ("report.pdf", "application/pdf", AttachmentKind.FILE),
        ("notes", "", AttachmentKind.FILE),
    ],
)
def test_classify(filename: str, content_type: str, kind: AttachmentKind) -> None:
    assert classify(filename, content_type) == kind


def test_the_plan_keeps_the_message_order_and_says_why_each_file_is_skipped() -> None:
    policy = AttachmentPolicy(AttachmentLimits(max_count=2))
    plan = policy.plan(
        [
            OfferedFile("a.png", "image/png", 10),
            OfferedFile("report.pdf", "application/pdf", 10),
            OfferedFile("huge.png", "image/png", 21 * MB),
            OfferedFile("linked.png", "image/png", 10, external=True),
            OfferedFile("b.jpg", "", None),  # no size given: the download enforces max_bytes
            OfferedFile("c.png", "image/png", 10),
        ]
    )
    assert [(a.file.filename, a.kind, a.content_type, a.max_bytes) for a in plan.accepted] == [
        ("a.png", AttachmentKind.IMAGE, "image/png", 20 * MB),
        ("b.jpg", AttachmentKind.IMAGE, "image/jpeg", 20 * MB),
    ]
    assert [(s.filename, s.reason) for s in plan.skipped] == [
        ("report.pdf", SkipReason.UNSUPPORTED),
        ("huge.png", SkipReason.TOO_LARGE),
        ("linked.png", SkipReason.EXTERNAL),
        ("c.png", SkipReason.TOO_MANY),
    ]
    plan.skip(plan.accepted[1])
    assert policy.skipped_note(plan.skipped).splitlines() == [
        "report.pdf is not supported yet: I can only read images and audio.",
        "huge.png is too large: I read images up to 20 MB.",
        "I read at most 2 files of one message, so c.png was left out.",
        "linked.png is stored outside the chat, so I can't open it.",
        "I couldn't download b.jpg.",
    ]


def test_audio_has_its_own_limit_and_a_policy_can_leave_it_out() -> None:
    voice = OfferedFile("voice-message.ogg", "audio/ogg", 22 * MB)
    images_only = AttachmentPolicy(AttachmentLimits(readable=frozenset({AttachmentKind.IMAGE})))
    assert images_only.skipped_note(images_only.plan([voice]).skipped) == (
        "voice-message.ogg is not supported yet: I can only read images."
    )
    with_audio = AttachmentPolicy()
    [accepted] = with_audio.plan([voice]).accepted
    assert (accepted.kind, accepted.max_bytes) == (AttachmentKind.AUDIO, 25 * MB)
    too_big = with_audio.plan([OfferedFile("talk.mp3", "audio/mpeg", 26 * MB), OfferedFile("x.png", "", 30 * MB)])
    assert with_audio.skipped_note(too_big.skipped) == (
        "talk.mp3 and x.png are too large: I read images up to 20 MB and audio up to 25 MB."
    )


def test_many_names_are_shortened() -> None:
    policy = AttachmentPolicy()
    plan = policy.plan([OfferedFile(f"doc{n}.pdf", "application/pdf") for n in range(5)])
    assert policy.skipped_note(plan.skipped) == (
        "doc0.pdf, doc1.pdf, doc2.pdf and 2 more are not supported yet: I can only read images and audio."
    )
    assert policy.skipped_note([]) == ""
