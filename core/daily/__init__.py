"""End of day: claim the day, summarise it, render the PDF, upload it and post the summary."""
