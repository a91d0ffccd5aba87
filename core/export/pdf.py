"""HTML to PDF with WeasyPrint, loading nothing but the day's own images."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from weasyprint import CSS, HTML

from core.export.document import DayDocument
from core.export.fetcher import DayImageFetcher
from core.export.layout import day_html
from core.export.style import PRINT_CSS

IMAGE_DPI = 150


def render_day_pdf_sync(doc: DayDocument) -> bytes:
    """Render `doc` to PDF bytes in the calling thread (CPU-bound: seconds for a long day)."""
    fetcher = DayImageFetcher(image for message in doc.messages for image in message.images)
    stylesheet = CSS(string=PRINT_CSS, url_fetcher=fetcher)
    # No base_url: relative references resolve to nothing instead of the working directory.
    html = HTML(string=day_html(doc), base_url=None, url_fetcher=fetcher)
    # Phone photos are ~600 dpi at page width: resampling them to 150 dpi keeps them sharp in
    # print and keeps the file small enough for a DM attachment (Discord: 10 MiB).
    return html.write_pdf(stylesheets=[stylesheet], dpi=IMAGE_DPI, jpeg_quality=85)


async def render_day_pdf(doc: DayDocument, *, executor: Executor | None = None) -> bytes:
    """Render `doc` to PDF bytes off the event loop.

    By default in a worker thread. WeasyPrint's layout is pure Python and holds the GIL
    most of the time, so a process pool (`executor`, e.g. a one-worker
    ProcessPoolExecutor) keeps streaming answers smooth during a long render and gives
    the render's memory back when the worker ends; `doc` and the bytes are pickled across.
    """
    if executor is None:
        return await asyncio.to_thread(render_day_pdf_sync, doc)
    return await asyncio.get_running_loop().run_in_executor(executor, render_day_pdf_sync, doc)
