"""The Google fake fixtures for the daily-log tests."""

from tests.google_helpers import _google_server, google_fake  # noqa: F401
