"""Who may talk to the assistant (until verified-email linking replaces it)."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from core.types import PlatformIdentity


class AccessPolicy:
    """An allowlist of platform accounts.

    Each entry is ``platform:workspace:user_id`` where any part may be ``*``;
    a shorter entry matches the rest (``terminal`` or ``terminal:*`` lets in
    every terminal user, ``discord:*:123456`` one Discord account anywhere).
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.patterns = tuple(self._normalise(p) for p in allowed if p.strip())

    @staticmethod
    def _normalise(pattern: str) -> str:
        parts = [p.strip() or "*" for p in pattern.strip().split(":")]
        while len(parts) < 3:
            parts.append("*")
        return ":".join(parts[:2] + [":".join(parts[2:])])

    def allows(self, identity: PlatformIdentity) -> bool:
        """Whether this account may use the assistant."""
        return any(fnmatchcase(identity.key, pattern) for pattern in self.patterns)
