"""discord.py's reconnect log as one line instead of a traceback.

discord.py logs every lost gateway connection with ``log.exception("Attempting
a reconnect in …")``: a 40-line traceback for what is an ordinary network
event.  The filter keeps the record and its level and folds the error into
the message.
"""

from __future__ import annotations

import logging


class ReconnectOneLine(logging.Filter):
    """Turns discord.client's "Attempting a reconnect" tracebacks into one line naming the error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            error = record.exc_info[1]
            text = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""
            cause = f"{type(error).__name__}: {text}" if text else type(error).__name__
            record.msg = f"Discord connection lost ({cause}); {record.getMessage()}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


RECONNECT_ONE_LINE = ReconnectOneLine()


def fold_reconnect_tracebacks() -> None:
    """Install the filter on discord.client's logger (once, however often it is called)."""
    logging.getLogger("discord.client").addFilter(RECONNECT_ONE_LINE)
