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

from PIL import ImageOps

from core.media.safe_image import ImageRejected, SafeImages

log = logging.getLogger(__name__)

# Long side in pixels: at most 150 dpi across the page's text width (174 mm) or the
# images' max-height (200 mm), so WeasyPrint never resamples it again; and a 4032-pixel
# phone photo (1,008 at a quarter) decodes at 1/4 scale, not 1/2.
MAX_SIDE = 1000
# MPO is how Pillow names a phone's JPEG that carries a second image (a depth or gain map).
JPEG_FORMATS = ("JPEG", "MPO")


def fit_for_print(data: bytes, content_type: str, *, images: SafeImages, max_side: int = MAX_SIDE) -> tuple[bytes, str]:
    """Return the image as bytes and content type, upright and at most `max_side` pixels on its long side.

    Small, upright images come back unchanged. ``images`` opens it within the size limit (an image
    over it is refused from its header, never decoded). Raises ValueError when it cannot be read
    or is too large (the PDF then shows the image's name instead).
    """
    try:
        header = images.header(data)
        if max(header.width, header.height) <= max_side and not header.rotated:
            return data, content_type
        with images.open(data, max_side=max_side, strict=False) as image:
            upright = ImageOps.exif_transpose(image)
            buffer = io.BytesIO()
            if header.format in JPEG_FORMATS:
                upright.convert("RGB").save(buffer, "JPEG", quality=85)
                return buffer.getvalue(), "image/jpeg"
            upright.save(buffer, "PNG")
            return buffer.getvalue(), "image/png"
    except ImageRejected as exc:
        raise ValueError(f"unreadable image: {exc}") from None
