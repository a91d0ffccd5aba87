"""A long day cut into parts that are laid out at the same time, one per CPU core.

WeasyPrint's layout is pure Python: a 500-message day takes 10-14 s on one core.
The day's messages are cut into contiguous slices; the first part (date heading,
summary and the first messages) is laid out in the calling process while part
workers (`core.export.workers`) lay out the others. The parts carry no page footer:
the footers are laid out alone once the page count is known (`footer_pdf`) and
`core.export.merge` draws them over the joined pages.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from core.export.document import DayDocument, DayMessage
from core.export.engine import weasyprint
from core.export.fetcher import day_image_fetcher
from core.export.layout import day_html
from core.export.style import FOOTER_CSS, PART_CSS, PRINT_CSS
from core.media.safe_image import SafeImages

if TYPE_CHECKING:
    from weasyprint import Document

# Images above 150 dpi as printed are resampled to it: sharp in print, and the file stays
# small enough for a DM attachment (Discord: 10 MiB). `core.export.images` already shrinks
# them that far; no jpeg_quality, so WeasyPrint embeds those JPEG bytes as they are instead
# of decoding and encoding each one again.
PDF_OPTIONS = {"dpi": 150}

# Layout cost in about characters of Markdown: a message's box and time line weigh
# like 200 characters of text, an image like 2,000. A 500-message day is about 600,000.
MESSAGE_COST = 200
IMAGE_COST = 2_000
# Splitting costs about 1.5 s: the worker's start (0.7 s to start, import WeasyPrint and
# read its part), the footers and the merge. From about 4 s of layout (150,000; a day of
# about 130 long messages) it is paid back. Equal shares end together: the worker's start
# costs about what the footers, laid out here once the parts are counted, cost the first part.
SPLIT_FROM = 150_000
PARTS = 2


@dataclass(frozen=True)
class Bookmark:
    """One entry of the PDF outline, as WeasyPrint placed it in a part."""

    level: int  # CSS bookmark-level: h1 is 1
    label: str
    page: int  # index in its part
    left: float  # PDF points from the page's bottom-left corner
    top: float
    is_open: bool


@dataclass(frozen=True)
class RenderedPart:
    """One part of the day as a PDF without page footers, and its outline entries."""

    pdf: bytes
    pages: int
    bookmarks: list[Bookmark]


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on, not the machine's
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def message_cost(message: DayMessage) -> int:
    """About how much layout one message needs, in characters of text."""
    return len(message.text) + MESSAGE_COST + IMAGE_COST * len(message.images)


def split_day(doc: DayDocument, parts: int = PARTS) -> list[list[DayMessage]]:
    """The day's messages in time order, cut into up to `parts` contiguous slices of about equal layout cost.

    A short day (under SPLIT_FROM), or a machine with one core, gives a single slice: no
    worker process for it. The summary counts in the first slice's share.
    """
    ordered = sorted(doc.messages, key=lambda m: m.at)
    costs = [message_cost(m) for m in ordered]
    total = len(doc.summary_markdown) + sum(costs)
    if parts < 2 or _cpus() < 2 or total < SPLIT_FROM:
        return [ordered]
    share = total / parts
    slices: list[list[DayMessage]] = [[]]
    running = float(len(doc.summary_markdown))
    for message, cost in zip(ordered, costs, strict=True):
        if running >= share and len(slices) < parts:
            slices.append([])
            running = 0.0
        slices[-1].append(message)
        running += cost
    return slices


def lay_out_part(doc: DayDocument, messages: Sequence[DayMessage], *, first: bool, images: SafeImages) -> Document:
    """Lay out one slice of the day (with the heading and summary if `first`) without page footers."""
    wp = weasyprint()
    fetcher = day_image_fetcher((image for message in messages for image in message.images), images)
    stylesheets = [wp.CSS(string=PRINT_CSS, url_fetcher=fetcher), wp.CSS(string=PART_CSS)]
    html = wp.HTML(string=day_html(doc, messages, first=first), base_url=None, url_fetcher=fetcher)
    return html.render(stylesheets=stylesheets, **PDF_OPTIONS)


def draw_part(document: Document) -> RenderedPart:
    """The laid-out part as PDF bytes, with its outline entries."""
    bookmarks = [
        # WeasyPrint's points are CSS pixels from the top-left; PDF destinations are points from the bottom-left.
        Bookmark(level, label, index, x * 0.75, (page.height - y) * 0.75, state != "closed")
        for index, page in enumerate(document.pages)
        for level, label, (x, y), state in page.bookmarks
    ]
    return RenderedPart(document.write_pdf(**PDF_OPTIONS), len(document.pages), bookmarks)


def render_part(doc: DayDocument, messages: Sequence[DayMessage], *, first: bool, images: SafeImages) -> RenderedPart:
    """Lay out and draw one slice of the day (with the heading and summary if `first`) without page footers."""
    return draw_part(lay_out_part(doc, messages, first=first, images=images))


def footer_pdf(title: str, pages: int) -> bytes:
    """`pages` empty pages carrying only the page footer: the title, and "Page 1 of <pages>" onwards."""
    first = f'<div class="footer" data-title="{escape(title)}"></div>'
    html = f'<!DOCTYPE html><html lang="en"><body>{first}{"<div class=footer></div>" * (pages - 1)}</body></html>'
    wp = weasyprint()
    stylesheets = [wp.CSS(string=PRINT_CSS), wp.CSS(string=FOOTER_CSS)]
    fetcher = day_image_fetcher([], SafeImages())  # no images: only refuses whatever URL it is asked for
    return wp.HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf(stylesheets=stylesheets)
