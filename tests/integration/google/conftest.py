"""The Google fake fixtures for the sign-in and Google tests."""

from tests.google_helpers import _google_server, google_fake  # noqa: F401
from tests.signin_site import site  # noqa: F401,E402
