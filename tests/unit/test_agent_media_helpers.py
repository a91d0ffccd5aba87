"""Pure helpers of the agents and media: image preparation, audio checks, speech text, source links."""

from __future__ import annotations

import base64
import functools
import io
import random

import pytest
from PIL import Image

from core.agents.base import AgentResult, add_usage
from core.agents.web_search import links_of
from core.llm import Usage
from core.media.image_prep import ImageRejected, prepare_image
from core.media.safe_image import SafeImages
from core.media.voice import audio_format, speakable, split_for_speech
from core.types import Attachment, AttachmentKind

_prepare = functools.partial(prepare_image, images=SafeImages())


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_small_png_is_sent_as_it_is() -> None:
    raw = encode(Image.new("RGB", (64, 48), "red"), "PNG")
    prepared = _prepare(raw)
    assert (prepared.data, prepared.content_type, prepared.downscaled) == (raw, "image/png", False)
    assert prepared.data_url == "data:image/png;base64," + base64.b64encode(raw).decode()


def test_a_large_photo_is_scaled_down_keeping_its_shape() -> None:
    prepared = _prepare(encode(Image.new("RGB", (3000, 6000), "blue"), "JPEG"), max_side=1000)
    assert (prepared.width, prepared.height, prepared.content_type) == (500, 1000, "image/jpeg")
    assert prepared.downscaled
    assert Image.open(io.BytesIO(prepared.data)).size == (500, 1000)


def test_transparency_survives_as_png() -> None:
    prepared = _prepare(encode(Image.new("RGBA", (900, 300), (0, 0, 0, 0)), "PNG"), max_side=300)
    assert (prepared.width, prepared.height, prepared.content_type) == (300, 100, "image/png")
    assert Image.open(io.BytesIO(prepared.data)).mode == "RGBA"


def test_formats_vision_models_do_not_take_are_converted() -> None:
    prepared = _prepare(encode(Image.new("RGB", (40, 40), "green"), "BMP"))
    assert prepared.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(prepared.data)).format == "JPEG"


def test_a_heavy_image_is_recompressed_under_the_byte_limit() -> None:
    noisy = Image.frombytes("RGB", (700, 700), random.Random(7).randbytes(700 * 700 * 3))
    raw = encode(noisy, "PNG")
    prepared = _prepare(raw, max_bytes=150_000)
    assert len(raw) > 150_000 >= len(prepared.data)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "The image is empty."),
        (b"%PDF-1.7", "That file is not an image I can read."),
        (encode(Image.new("RGB", (500, 500), "red"), "PNG")[:200], "The image seems damaged; I could not read it."),
    ],
)
def test_what_is_not_a_readable_image_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(ImageRejected, match=message):
        _prepare(raw, max_side=100)


@pytest.mark.parametrize(
    ("filename", "content_type", "fmt"),
    [
        ("voice-message.ogg", "audio/ogg", "ogg"),
        ("clip.OPUS", "", "ogg"),
        ("audio_message", "audio/mp4", "m4a"),
        ("Recording.webm", "audio/webm", "webm"),
        ("memo", "audio/x-wav; codecs=1", "wav"),
        ("memo.amr", "audio/amr", None),
        ("notes.txt", "text/plain", None),
    ],
)
def test_audio_formats_come_from_the_name_then_the_type(filename: str, content_type: str, fmt: str | None) -> None:
    assert audio_format(Attachment(AttachmentKind.AUDIO, filename, content_type, b"x")) == fmt


def test_speech_text_drops_what_sounds_wrong_aloud() -> None:
    text = "# Plan\n> quoted\nSee <https://a.example/x> and __this__ `code`.\n\n\n\n```\nrm -rf /\n```\nBye"
    assert speakable(text) == "Plan\nquoted\nSee (link) and this code.\n\n(code omitted)\nBye"


def test_speech_pieces_end_at_sentences_and_keep_every_word() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(400))
    pieces = split_for_speech(text, 500)
    assert all(len(p) <= 500 and p.endswith("here.") for p in pieces)
    assert " ".join(pieces) == text
    assert split_for_speech("x" * 1200, 500) == ["x" * 500, "x" * 500, "x" * 200]


def test_search_links_follow_the_citation_numbers() -> None:
    extra = {
        "citations": ["https://b.example", "https://a.example", "https://b.example"],
        "search_results": [{"title": "A page", "url": "https://a.example"}, {"title": "", "url": "https://b.example"}],
    }
    assert links_of(extra) == ["https://b.example", "A page — https://a.example"]
    assert links_of({"search_results": [{"title": "Only", "url": "https://c.example"}]}) == ["Only — https://c.example"]
    assert links_of({}) == []


def test_agent_results_are_flagged_with_their_source_and_carry_usage() -> None:
    result = AgentResult("vision agent", "  A cat on a mat. ", links=["https://x.example"], usage=Usage(5, 2))
    tool_result = result.as_tool_result()
    assert tool_result.content == "[from the vision agent] A cat on a mat.\n\nSources:\n[1] https://x.example"
    assert (tool_result.source, tool_result.links, tool_result.usage) == (
        "vision agent",
        ("https://x.example",),
        Usage(5, 2),
    )
    assert add_usage(Usage(5, 2), None, Usage(1, 1)) == Usage(6, 3)
    assert add_usage(None) is None


def test_a_rotated_phone_photo_is_turned_upright_when_scaled() -> None:
    photo = Image.new("RGB", (400, 200), "white")
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    prepared = _prepare(buffer.getvalue(), max_side=100)
    assert (prepared.width, prepared.height) == (50, 100)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns at open; we refuse
def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    # A 12,000 x 12,000 PNG of one colour: tiny on disk, 144 megapixels once decoded.
    raw = encode(Image.new("1", (12_000, 12_000), 0), "PNG")
    assert len(raw) < 100_000
    with pytest.raises(ImageRejected, match=r"too large to read \(144 megapixels; I read images up to 40"):
        _prepare(raw)
