"""The one safe way to open an image: limits from the setting, shrinking, and its travel into a render process."""

from __future__ import annotations

import io
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from bot.config import Settings
from core.export import DayDocument, DayMessage, StoredImage, render_day_pdf
from core.media.safe_image import ImageLimits, ImageRejected, SafeImages
from tests.image_bombs import bomb, solid_png


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "navy").save(buffer, "PNG")
    return buffer.getvalue()


def test_max_image_megapixels_comes_from_the_setting_and_caps_what_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAX_IMAGE_MEGAPIXELS", "1.5")
    limits = ImageLimits(Settings(_env_file=None).max_image_megapixels)
    images = SafeImages(limits)

    assert images.header(_png(1200, 1200)).pixels == 1_440_000
    with pytest.raises(ImageRejected, match=r"too large to read \(2 megapixels; I read images up to 1.5 megapixels\)"):
        images.header(_png(1300, 1300))


def test_an_opened_image_is_shrunk_to_the_size_asked_and_keeps_its_alpha() -> None:
    with SafeImages().open(solid_png(5_000, 2_500), max_side=1_000) as image:
        assert image.size == (1_000, 500)
        assert image.mode == "RGBA" and image.getpixel((10, 10)) == (0x10, 0x20, 0x30, 0xFF)


def test_the_opener_reaches_a_render_process_with_its_limits_and_a_gate_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    images = SafeImages(ImageLimits(max_megapixels=12))

    copy = pickle.loads(pickle.dumps(images))

    assert copy.limits == images.limits and copy.gate is not images.gate
    assert Image.MAX_IMAGE_PIXELS == 12_000_000, "Pillow's own limit is set where the opener arrives"


async def test_a_pdf_rendered_in_a_process_pool_refuses_the_bomb_there_too() -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    images = [StoredImage("7-bomb.png", "image/png", bomb()), StoredImage("8-small.png", "image/png", _png(64, 64))]
    doc = DayDocument(date(2026, 12, 1), "Captain", UTC, "", [DayMessage(at, "Ada", "user", "two pictures", images)])

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pdf = await render_day_pdf(doc, executor=pool, images=SafeImages())

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "7-bomb.png" in text, "the refused image is named instead"
    assert "8-small.png" not in text, "the small one is drawn"
