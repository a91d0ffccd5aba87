"""The data export as a feature unit: ``/export-data``."""

from __future__ import annotations

from core.daily.document import PdfCache
from core.data_export.command import export_data_command
from core.features import FeatureContext, FeatureParts


class DataExport:
    """``/export-data``: everything stored about the caller, as a zip sent to their DM."""

    name = "data-export"

    def __init__(self, *, pdfs: PdfCache | None = None) -> None:
        """``pdfs``: the daily log's cached day PDFs, put in the archive (None without the daily log)."""
        self.pdfs = pdfs

    def install(self, context: FeatureContext) -> FeatureParts:
        if context.outbox is None:
            raise ValueError("the data export needs the outbox to send the archive through")
        command = export_data_command(
            context.db, user_of=context.people.user_of, outbox=context.outbox, clock=context.clock, pdfs=self.pdfs
        )
        return FeatureParts(commands=[command])
