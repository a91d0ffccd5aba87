"""HTML to PDF with WeasyPrint, loading nothing but the day's own images."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor

from core.export.document import DayDocument, DayMessage
from core.export.engine import PdfUnavailable, weasyprint
from core.export.fetcher import day_image_fetcher
from core.export.layout import day_html
from core.export.parts import PDF_OPTIONS, RenderedPart, footer_pdf, render_part, split_day
from core.export.style import PRINT_CSS
from core.export.workers import PartWorker
from core.media.safe_image import SafeImages

log = logging.getLogger(__name__)


def _render_in_parts(doc: DayDocument, slices: Sequence[Sequence[DayMessage]], images: SafeImages) -> bytes:
    """The first slice here, the others in part workers at the same time; then the footers and the merge.

    A worker that fails has its part laid out here instead: slower, never a PDF short of messages.
    """
    workers = [PartWorker(doc, messages, images) for messages in slices[1:]]
    try:
        parts = [render_part(doc, slices[0], first=True, images=images)]
        redone: dict[int, RenderedPart] = {}
        pages = parts[0].pages
        for n, worker in enumerate(workers):
            count = worker.pages()
            if count is None:
                redone[n] = render_part(doc, worker.messages, first=False, images=images)
                count = redone[n].pages
            pages += count
        # Laid out while the workers draw their parts.
        footers = footer_pdf(doc.title, pages)
        for n, worker in enumerate(workers):
            part = redone.get(n) or worker.result()
            parts.append(part or render_part(doc, worker.messages, first=False, images=images))
    finally:
        for worker in workers:
            worker.close()
    if sum(part.pages for part in parts) != pages:  # a part redone here after its worker had counted
        footers = footer_pdf(doc.title, sum(part.pages for part in parts))
    from core.export.merge import merge_parts  # pypdf loads on the first long day, not at every start

    return merge_parts(doc, parts, footers)


def render_day_pdf_sync(doc: DayDocument, images: SafeImages | None = None) -> bytes:
    """Render `doc` to PDF bytes (CPU-bound: seconds for a long day).

    Every image is opened by `images` (default: the default size limit): one over the limit
    is refused from its header and the PDF shows its name instead.

    A short day is laid out in the calling thread in one piece. A long one is cut into
    two parts laid out at the same time, the second in a short-lived process of its own
    (`core.export.parts`, `core.export.workers`), then merged with its page numbers
    ("Page X of Y") counted over the whole day (`core.export.merge`).

    Raises `PdfUnavailable` (one sentence saying what to install) when WeasyPrint cannot load.
    """
    wp = weasyprint()  # first: without WeasyPrint no part worker is started for nothing
    images = images or SafeImages()
    slices = split_day(doc)
    if len(slices) > 1:
        return _render_in_parts(doc, slices, images)
    fetcher = day_image_fetcher((image for message in doc.messages for image in message.images), images)
    stylesheet = wp.CSS(string=PRINT_CSS, url_fetcher=fetcher)
    # No base_url: relative references resolve to nothing instead of the working directory.
    html = wp.HTML(string=day_html(doc), base_url=None, url_fetcher=fetcher)
    return html.write_pdf(stylesheets=[stylesheet], **PDF_OPTIONS)


async def render_day_pdf(
    doc: DayDocument, *, executor: Executor | None = None, images: SafeImages | None = None
) -> bytes:
    """Render `doc` to PDF bytes off the event loop.

    `images` opens the day's images within the size limit; in a worker thread it shares the
    process's decode gate, in another process (`executor`, the part workers) that process gets
    a gate of its own with the same limits.

    By default in a worker thread. WeasyPrint's layout is pure Python and holds the GIL
    most of the time, so a process pool (`executor`, e.g. a one-worker
    ProcessPoolExecutor) keeps streaming answers smooth during a long render and gives
    the render's memory back when the worker ends; `doc` and the bytes are pickled across.
    Either way a long day's second part is laid out by a process started for that render
    and gone at its end.

    Raises `PdfUnavailable` when WeasyPrint cannot load (its system libraries are missing);
    the reason is logged here, in the calling process.
    """
    try:
        if executor is None:
            return await asyncio.to_thread(render_day_pdf_sync, doc, images)
        return await asyncio.get_running_loop().run_in_executor(executor, render_day_pdf_sync, doc, images)
    except PdfUnavailable as exc:
        log.warning("PDF export unavailable: %s (%s)", exc, exc.detail)
        raise
