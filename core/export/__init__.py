"""Render one user's day (summary and every message, with images) to a PDF."""

from core.export.document import DayDocument, DayMessage, StoredImage
from core.export.engine import PdfUnavailable
from core.export.pdf import render_day_pdf, render_day_pdf_sync

__all__ = ["DayDocument", "DayMessage", "PdfUnavailable", "StoredImage", "render_day_pdf", "render_day_pdf_sync"]
