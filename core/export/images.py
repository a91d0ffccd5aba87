"""Stored images made fit for print before WeasyPrint sees them.

A phone photo is 12 megapixels; in the PDF it is at most a page wide (174 mm: about
1,030 pixels at the PDF's 150 dpi). Shrinking it here, decoding the JPEG at a
quarter of its size, costs a fraction of what WeasyPrint spends on the full image;
at no more than 150 dpi as printed, WeasyPrint then embeds the bytes as they are
(no resampling of its own), and turning it upright by its EXIF orientation keeps it
the way the phone showed it.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

# Long side in pixels: at most 150 dpi across the page's text width (174 mm) or the
# images' max-height (200 mm), so WeasyPrint never resamples it again; and a 4032-pixel
# phone photo (1,008 at a quarter) decodes at 1/4 scale, not 1/2.
MAX_SIDE = 1000
# MPO is how Pillow names a phone's JPEG that carries a second image (a depth or gain map).
JPEG_FORMATS = ("JPEG", "MPO")


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
            if image.format in JPEG_FORMATS:
                # Decode at 1/2, 1/4 or 1/8 scale: the smallest that is still no smaller than the result.
                # Asked with the result's own proportions, since draft compares each side.
                scale = max_side / max(image.size)
                image.draft("RGB", (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((max_side, max_side))
            buffer = io.BytesIO()
            if image.format in JPEG_FORMATS:
                upright.convert("RGB").save(buffer, "JPEG", quality=85)
                return buffer.getvalue(), "image/jpeg"
            upright.save(buffer, "PNG")
            return buffer.getvalue(), "image/png"
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"unreadable image: {exc}") from None
