"""Images made ready for a vision model: checked, downscaled when large, as a ``data:`` URL.

Vision models take PNG, JPEG, WEBP and non-animated GIF.  Anything larger than
``max_side`` pixels on its long side (or heavier than ``max_bytes``) is scaled
down and re-encoded, which keeps requests small and cheap; other formats
Pillow can read (BMP, TIFF, an animated GIF's first frame) are converted.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.media.safe_image import ImageRejected, SafeImages

DEFAULT_MAX_SIDE = 2048
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_SENT_AS_IS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_SIDE", "ImageRejected", "PreparedImage", "prepare_image"]


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready to send: its bytes, type and size after any downscaling."""

    data: bytes
    content_type: str
    width: int
    height: int
    downscaled: bool

    @property
    def data_url(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def prepare_image(
    raw: bytes,
    *,
    images: SafeImages,
    max_side: int = DEFAULT_MAX_SIDE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> PreparedImage:
    """Check ``raw`` and downscale or convert it when needed. CPU-bound: call it in a thread.

    ``images`` opens it within the size limit (refused from the header above it, one large
    decode at a time). Raises :class:`ImageRejected` for bytes that are not a readable image.
    """
    header = images.header(raw)
    with images.open(raw, max_side=max_side) as image:  # decoded also when sent as is: a damaged file is refused
        animated = bool(getattr(image, "is_animated", False))
        fmt = header.format
        as_is = (
            fmt in _SENT_AS_IS
            and not animated
            and max(header.width, header.height) <= max_side
            and len(raw) <= max_bytes
        )
        if as_is:
            return PreparedImage(raw, _SENT_AS_IS[fmt], header.width, header.height, downscaled=False)
        return _reencode(image, original=(header.width, header.height), max_side=max_side, max_bytes=max_bytes)


def _reencode(image: Image.Image, *, original: tuple[int, int], max_side: int, max_bytes: int) -> PreparedImage:
    # Already at most max_side: the copies below are of the reduced image, never of a full-size one.
    oriented = ImageOps.exif_transpose(image)  # phone photos: the re-encoded copy has no EXIF to rotate by
    if oriented.size != image.size:
        original = original[::-1]
    image = oriented
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    side = max_side
    while True:
        copy = image.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if has_alpha:
            copy.save(buffer, format="PNG", optimize=True)
            content_type = "image/png"
        else:
            copy.save(buffer, format="JPEG", quality=85)
            content_type = "image/jpeg"
        data = buffer.getvalue()
        if len(data) <= max_bytes or side <= 256:
            return PreparedImage(data, content_type, copy.width, copy.height, downscaled=copy.size != original)
        side = int(side * 0.75)
