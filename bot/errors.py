"""Errors the command line reports as one sentence, never a traceback."""


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""
