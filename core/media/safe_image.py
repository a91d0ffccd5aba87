"""Opening an image safely: the one way every path decodes a stored or incoming image.

A PNG of a few hundred KiB can declare 10,000 × 10,000 pixels, and decoding it
takes gigabytes. So every path (an incoming attachment, ``look_at_image``, the
daily PDF) opens images here, which

- refuses from the header alone, before any pixel is decoded, an image of more
  than ``max_megapixels`` (the ``MAX_IMAGE_MEGAPIXELS`` setting), and sets
  Pillow's own ``Image.MAX_IMAGE_PIXELS`` to match for anything else that decodes;
- decodes reduced where the format allows (a JPEG at 1/2, 1/4 or 1/8 scale) and
  shrinks the result in place at once, so the full-size copy is dropped before
  any further work on it;
- lets one large decode run at a time in the process (:class:`DecodeGate`, built
  once and passed to every :class:`SafeImages`), so ten large images of one
  message are decoded one after the other, not all at once.
"""

from __future__ import annotations

import ctypes
import functools
import io
import math
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

MB = 1024 * 1024
DEFAULT_MAX_MEGAPIXELS = 40.0
# Decodes larger than this (in bytes of decoded pixels) wait for the gate; smaller ones run freely.
DEFAULT_LARGE_DECODE_BYTES = 32 * MB
# Modes whose pixels can be box-averaged band by band (not palette or bit images).
_BOX_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "RGBX", "CMYK"})


class ImageRejected(ValueError):
    """The bytes are not an image we read; ``str(exc)`` is a sentence fit for the user."""


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """How large an image may be (megapixels) and from what decoded size one waits its turn."""

    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    large_decode_bytes: int = DEFAULT_LARGE_DECODE_BYTES

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    def too_large(self, pixels: int) -> str:
        """The sentence for the user about an image of ``pixels`` pixels over the limit."""
        return (
            f"The image is too large to read ({pixels / 1_000_000:.0f} megapixels; "
            f"I read images up to {self.max_megapixels:g} megapixels)."
        )


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What an image's header declares: read without decoding a pixel."""

    format: str
    width: int
    height: int
    mode: str
    orientation: int = 1  # EXIF orientation: 1 is upright

    @property
    def rotated(self) -> bool:
        """Whether EXIF says the image is shown turned or mirrored."""
        return self.orientation not in (0, 1)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bands(self) -> int:
        return Image.getmodebands(self.mode)

    @property
    def decoded_bytes(self) -> int:
        """Memory the decoded pixels take: Pillow keeps 2- to 4-band and 32-bit pixels in 4 bytes."""
        one_byte = self.bands == 1 and self.mode not in ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
        return self.pixels * (1 if one_byte else 4)


class DecodeGate:
    """Lets one large decode at a time run in this process. Build one per process and pass it in.

    A gate does not cross into another process: unpickled (the PDF's render process), it is a
    new gate of that process.
    """

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait until no other large decode runs, then hold the turn while the block runs."""
        with self._semaphore:
            yield

    def __reduce__(self) -> tuple[type[DecodeGate], tuple[int]]:
        return DecodeGate, (self.slots,)


def apply_pillow_limit(limits: ImageLimits) -> None:
    """Set Pillow's process-wide ``Image.MAX_IMAGE_PIXELS`` to the limit (called once per process).

    Code that decodes with Pillow directly (WeasyPrint) then refuses the same bombs: Pillow
    warns above the limit and raises above twice it; :class:`SafeImages` refuses from the limit.
    """
    Image.MAX_IMAGE_PIXELS = limits.max_pixels


class SafeImages:
    """Reads image headers and decodes images within the limits; thread-safe, one per process.

    Pickled into another process (the PDF's render process, a part worker), it arrives with
    the same limits, a decode gate of that process, and Pillow's own limit set there.
    """

    def __init__(self, limits: ImageLimits | None = None, gate: DecodeGate | None = None) -> None:
        self.limits = limits or ImageLimits()
        self.gate = gate or DecodeGate()

    def __reduce__(self) -> tuple[object, tuple[ImageLimits, int]]:
        return _in_this_process, (self.limits, self.gate.slots)

    def header(self, data: bytes) -> ImageHeader:
        """The image's declared format and size; raises :class:`ImageRejected` when unreadable or too large."""
        with self._opened(data) as image:
            return ImageHeader(image.format or "", image.width, image.height, image.mode, _orientation(image))

    @contextmanager
    def open(self, data: bytes, *, max_side: int, strict: bool = True) -> Iterator[Image.Image]:
        """The decoded image, at most ``max_side`` pixels on its long side (aspect kept); for use in ``with``.

        The image yielded may be a new one without ``format`` (ask :meth:`header` for that).
        ``strict`` refuses truncated files (WeasyPrint lets Pillow accept them process-wide);
        the PDF passes False to keep showing what can be read. Raises :class:`ImageRejected`.
        """
        with self._opened(data) as image:
            try:
                if image.format in ("JPEG", "MPO"):
                    # Decode at 1/2, 1/4 or 1/8 scale: the smallest still no smaller than the result;
                    # asked with the result's own proportions, since draft compares each side.
                    scale = min(1.0, max_side / max(image.size))
                    image.draft(image.mode, (max(1, int(image.width * scale)), max(1, int(image.height * scale))))
                declared = ImageHeader(image.format or "", image.width, image.height, image.mode)
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageRejected("The image seems damaged; I could not read it.") from exc
            large = declared.decoded_bytes > self.limits.large_decode_bytes
            # The turn lasts until the caller is done with the image: its copies and encodings of a
            # large image are large too, and only one such piece of work runs at a time.
            with self.gate.turn() if large else nullcontext():
                try:
                    self._load(image, strict=strict)
                    shrunk = _shrink(image, max_side)
                except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
                    if isinstance(exc, ImageRejected):
                        raise
                    raise ImageRejected("The image seems damaged; I could not read it.") from exc
                try:
                    with shrunk:
                        yield shrunk
                finally:
                    if large:
                        _return_freed_memory()

    @staticmethod
    def _load(image: Image.Image, *, strict: bool) -> None:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        if strict:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before

    @contextmanager
    def _opened(self, data: bytes) -> Iterator[Image.Image]:
        if not data:
            raise ImageRejected("The image is empty.")
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(self.limits.too_large(_declared_pixels(exc, self.limits))) from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("That file is not an image I can read.") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected("The image seems damaged; I could not read it.") from exc
        with image:
            if image.width * image.height > self.limits.max_pixels:
                raise ImageRejected(self.limits.too_large(image.width * image.height))
            yield image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation the header declares; 1 (upright) when there is none or it cannot be read."""
    # Not image.getexif(): for a PNG it decodes the whole image to look for EXIF after the pixels.
    raw = image.info.get("exif")
    if not isinstance(raw, bytes):
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        return int(exif.get(ExifTags.Base.Orientation, 1) or 1)
    except (SyntaxError, ValueError, TypeError, OSError, struct.error):  # damaged EXIF: the pixels may be fine
        return 1


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` at most ``max_side`` on its long side; its full-size pixels are freed as soon as a copy is made."""
    longest = max(image.size)
    if longest <= max_side:
        return image
    factor = math.ceil(longest / (2 * max_side))
    if factor >= 2 and image.mode in _BOX_REDUCIBLE:
        # Box-average at once to at most twice the result, in the image's own mode. Pillow's reduce()
        # and resize() first copy a whole RGBA image to premultiplied alpha, which doubles the peak;
        # averaging straight alpha differs only at the edges of transparent areas.
        reduced = image._new(image.im.reduce((factor, factor), (0, 0, *image.size)))
        image.close()  # frees the full-size pixels now
        image = reduced
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # in place: the larger pixels are freed
    return image


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


def _return_freed_memory() -> None:
    # A decode in a worker thread leaves its freed pixel blocks in that thread's malloc arena, which
    # glibc keeps: six threads that each decoded one large image once would hold six times the memory.
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _in_this_process(limits: ImageLimits, slots: int) -> SafeImages:
    apply_pillow_limit(limits)
    return SafeImages(limits, DecodeGate(slots))


def _declared_pixels(exc: BaseException, limits: ImageLimits) -> int:
    # Pillow's message: "Image size (99002500 pixels) exceeds limit of ...".
    words = str(exc).replace("(", " ").split()
    for word in words:
        if word.isdigit():
            return int(word)
    return limits.max_pixels + 1
