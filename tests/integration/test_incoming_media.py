"""A message's voice recordings and images, read before the main model is called."""

from __future__ import annotations

import io

from PIL import Image

from core.agents.vision import VisionAgent
from core.llm import ModelNames, OpenAIModel, Usage
from core.media.incoming import IncomingMedia, read_attachments
from core.media.safe_image import SafeImages
from core.media.voice import Transcriber
from core.types import Attachment, AttachmentKind
from tests.fakes.openai_server import PNG_BYTES, Error, FakeOpenAI, Reply

VOICE = Attachment(AttachmentKind.AUDIO, "voice-message.ogg", "audio/ogg", b"OggS" + b"\x00" * 64)
PHOTO = Attachment(AttachmentKind.IMAGE, "plant.png", "image/png", PNG_BYTES)


async def read(fake: FakeOpenAI, text: str, *attachments: Attachment) -> IncomingMedia:
    model = OpenAIModel(
        api_key="sk-test", base_url=fake.base_url, models=ModelNames(vision="vision-test"), max_retries=0
    )
    vision = VisionAgent(model, images=SafeImages())
    return await read_attachments(text, attachments, transcriber=Transcriber(model), vision=vision)


async def test_a_spoken_question_about_a_photo_reaches_the_vision_model(openai_fake: FakeOpenAI) -> None:
    openai_fake.transcription_text = "What plant is this?"
    openai_fake.queue(Reply("A young monstera.", usage=(900, 5)))

    media = await read(openai_fake, "", VOICE, PHOTO)

    assert media.text == "What plant is this?"
    assert media.spoken and media.heard == ("What plant is this?",)
    assert [f.flagged() for f in media.findings] == ["[from the vision agent] A young monstera."]
    assert openai_fake.images_sent()[0][0] == "What plant is this?"
    assert media.usage == Usage(900, 5)
    assert media.notices == ()


async def test_typed_text_comes_first_and_failures_become_lines_and_flagged_errors(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Error(500))
    too_odd = Attachment(AttachmentKind.AUDIO, "memo.amr", "audio/amr", b"#!AMR")

    media = await read(openai_fake, "Look at this", too_odd, PHOTO)

    assert media.text == "Look at this"
    assert not media.spoken
    assert media.notices == (
        "I can't listen to memo.amr: voice messages must be one of flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm.",
    )
    [finding] = media.findings
    assert finding.is_error
    assert finding.flagged() == (
        "[from the vision agent] Error: could not look at the image. "
        "The model service failed (HTTP 500); try again shortly."
    )
    assert media.usage is None


async def test_a_photo_with_damaged_exif_reaches_the_vision_model(openai_fake: FakeOpenAI) -> None:
    """Damaged EXIF made the size check raise SyntaxError, so the message was never answered."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(buffer, "JPEG", exif=b"Exif\x00\x00not a TIFF header")
    photo = Attachment(AttachmentKind.IMAGE, "IMG_0003.jpg", "image/jpeg", buffer.getvalue())
    openai_fake.queue(Reply("A green square."))

    media = await read(openai_fake, "What is this?", photo)

    assert [f.flagged() for f in media.findings] == ["[from the vision agent] A green square."]
    assert media.notices == ()
