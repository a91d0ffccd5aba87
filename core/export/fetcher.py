"""The only way the PDF renderer can load anything: the day's own stored images.

WeasyPrint's default fetcher opens file paths, relative paths and http(s) URLs
found in the document (and reading `file:///dev/urandom` is not bounded by its
timeout). This one answers the internal image scheme from a dictionary in
memory and refuses every other URL without touching the disk or the network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import unquote

from weasyprint.urls import URLFetcher, URLFetcherResponse

from core.export.document import StoredImage
from core.export.images import fit_for_print
from core.export.markup import IMAGE_SCHEME

log = logging.getLogger(__name__)

# Raster formats only: an SVG could pull further resources or expand without bound.
RENDERABLE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def is_renderable(image: StoredImage) -> bool:
    """Whether the PDF shows `image` inline (otherwise it gets a one-line note)."""
    return image.content_type.split(";")[0].strip().lower() in RENDERABLE_TYPES


class DayImageFetcher(URLFetcher):
    """Serves `cl-image:<key>` from the given images; every other URL is refused."""

    def __init__(self, images: Iterable[StoredImage]) -> None:
        super().__init__(allowed_protocols={IMAGE_SCHEME}, allow_redirects=False, fail_on_errors=False)
        self._images = {image.key: image for image in images if is_renderable(image)}
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
            data, content_type = fit_for_print(image.data, image.content_type)
        except ValueError as exc:
            self.refused.append(url)
            log.warning("PDF export could not read image %s: %s", image.key[:200], exc)
            raise
        return URLFetcherResponse(url, data, {"Content-Type": content_type})
