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

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

DEFAULT_MAX_SIDE = 2048
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 100_000_000  # refuse decompression bombs before decoding them
TOO_LARGE = "The image is too large to look at (over 100 megapixels)."
_SENT_AS_IS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


class ImageRejected(ValueError):
    """The bytes are not an image we can send; the message is fit for the user."""


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


def prepare_image(raw: bytes, *, max_side: int = DEFAULT_MAX_SIDE, max_bytes: int = DEFAULT_MAX_BYTES) -> PreparedImage:
    """Check ``raw`` and downscale or convert it when needed. CPU-bound: call it in a thread.

    Raises :class:`ImageRejected` for bytes that are not a readable image.
    """
    if not raw:
        raise ImageRejected("The image is empty.")
    # WeasyPrint (imported for the daily PDF) lets Pillow accept truncated files process-wide; here a
    # damaged image must be refused, so decode strictly.
    strict, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        image = Image.open(io.BytesIO(raw))
        if image.width * image.height > MAX_PIXELS:
            raise ImageRejected(TOO_LARGE)
        fmt = image.format or ""
        animated = bool(getattr(image, "is_animated", False))
        width, height = image.size  # before draft() may shrink it
        as_is = fmt in _SENT_AS_IS and not animated and max(width, height) <= max_side and len(raw) <= max_bytes
        if fmt == "JPEG" and not as_is:
            image.draft("RGB", (max_side, max_side))  # decode at a reduced scale: much faster
        image.load()  # also for images sent as they are: a damaged file is refused, not sent on
        if as_is:
            return PreparedImage(raw, _SENT_AS_IS[fmt], width, height, downscaled=False)
    except Image.DecompressionBombError as exc:
        raise ImageRejected(TOO_LARGE) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("That file is not an image I can read.") from exc
    except OSError as exc:  # truncated or corrupt data
        raise ImageRejected("The image seems damaged; I could not read it.") from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = strict
    return _reencode(image, max_side=max_side, max_bytes=max_bytes)


def _reencode(image: Image.Image, *, max_side: int, max_bytes: int) -> PreparedImage:
    image = ImageOps.exif_transpose(image)  # phone photos: the re-encoded copy has no EXIF to rotate by
    original = image.size
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
