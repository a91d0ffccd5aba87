"""Errors the command line reports as one sentence, never a traceback."""


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's own message (the driver's, for database errors), for a one-line report."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
