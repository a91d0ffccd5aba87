"""The only way the PDF renderer can load anything: the day's own stored images.

WeasyPrint's default fetcher opens file paths, relative paths and http(s) URLs
found in the document (and reading `file:///dev/urandom` is not bounded by its
timeout). This one answers the internal image scheme from a dictionary in
memory and refuses every other URL without touching the disk or the network.
Its base class is WeasyPrint's, so the class is built on first use (`fetcher_class`):
importing this module does not load WeasyPrint.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from core.export.document import StoredImage
from core.export.engine import weasyprint
from core.export.images import fit_for_print
from core.export.markup import IMAGE_SCHEME
from core.media.safe_image import SafeImages

if TYPE_CHECKING:
    from weasyprint.urls import URLFetcher

log = logging.getLogger(__name__)

# Raster formats only: an SVG could pull further resources or expand without bound.
RENDERABLE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def is_renderable(image: StoredImage) -> bool:
    """Whether the PDF shows `image` inline (otherwise it gets a one-line note)."""
    return image.content_type.split(";")[0].strip().lower() in RENDERABLE_TYPES


@functools.cache
def fetcher_class() -> type[URLFetcher]:
    """The fetcher class, built on first use: its base class is WeasyPrint's (`core.export.engine`)."""
    weasyprint()  # PdfUnavailable here rather than an OSError from the import below
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class DayImageFetcher(URLFetcher):
        """Serves `cl-image:<key>` from the given images; every other URL is refused."""

        def __init__(self, images: Iterable[StoredImage], opener: SafeImages) -> None:
            super().__init__(allowed_protocols={IMAGE_SCHEME}, allow_redirects=False, fail_on_errors=False)
            self._images = {image.key: image for image in images if is_renderable(image)}
            self._opener = opener
            self.refused: list[str] = []

        def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
            """Return the stored image named by `url`, or raise ValueError (WeasyPrint then skips it)."""
            prefix = IMAGE_SCHEME + ":"
            image = self._images.get(unquote(url[len(prefix) :])) if url.lower().startswith(prefix) else None
            if image is None:
                self.refused.append(url)
                log.warning("PDF export refused to load %s", url[:200])
                raise ValueError("only the day's stored images can be loaded")
            try:
                data, content_type = fit_for_print(image.data, image.content_type, images=self._opener)
            except ValueError as exc:
                self.refused.append(url)
                log.warning("PDF export could not read image %s: %s", image.key[:200], exc)
                raise
            return URLFetcherResponse(url, data, {"Content-Type": content_type})

    DayImageFetcher.__module__ = __name__
    DayImageFetcher.__qualname__ = "DayImageFetcher"
    return DayImageFetcher


def day_image_fetcher(images: Iterable[StoredImage], opener: SafeImages) -> URLFetcher:
    """A `DayImageFetcher` serving `images`, each opened by `opener` within the size limit: every render's fetcher."""
    return fetcher_class()(images, opener)


def __getattr__(name: str) -> Any:
    # `from core.export.fetcher import DayImageFetcher` still works; the class is built then, not at import.
    if name == "DayImageFetcher":
        return fetcher_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
