"""Stored images made fit for print before WeasyPrint sees them.

A phone photo is 12 megapixels; in the PDF it is at most a page wide (about 1,050
pixels at 150 dpi). Shrinking it here, decoding the JPEG at a reduced scale,
costs a fraction of what WeasyPrint spends on the full image, and turning it
upright by its EXIF orientation keeps it the way the phone showed it.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

# Long side in pixels: a full page width at 150 dpi, with a little to spare.
MAX_SIDE = 1200


def fit_for_print(data: bytes, content_type: str, max_side: int = MAX_SIDE) -> tuple[bytes, str]:
    """Return the image as bytes and content type, upright and at most `max_side` pixels on its long side.

    Small, upright images come back unchanged. Raises ValueError when Pillow cannot read it
    (the PDF then shows the image's name instead).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            oriented = image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) not in (1, None)
            if max(image.size) <= max_side and not oriented:
                return data, content_type
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_side, max_side))
            buffer = io.BytesIO()
            if image.format == "JPEG":
                upright.convert("RGB").save(buffer, "JPEG", quality=85)
                return buffer.getvalue(), "image/jpeg"
            upright.save(buffer, "PNG")
            return buffer.getvalue(), "image/png"
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"unreadable image: {exc}") from None
