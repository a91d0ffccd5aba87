"""Who may sign in: ``ALLOWED_EMAILS`` as exact addresses and ``*@domain`` patterns."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


class EmailAllowlist:
    """Case-insensitive allowlist of emails: ``ada@example.org`` or ``*@example.org``.

    A pattern's wildcard only covers the local part, so ``*@example.org`` does not let in
    ``eve@evil.example.org``; an empty list lets nobody in.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.exact: frozenset[str] = frozenset()
        self.patterns: tuple[str, ...] = ()
        exact, patterns = set(), []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if "*" in entry or "?" in entry or "[" in entry:
                patterns.append(entry)
            else:
                exact.add(entry)
        self.exact = frozenset(exact)
        self.patterns = tuple(patterns)

    @classmethod
    def parse(cls, text: str) -> EmailAllowlist:
        """From the setting's text: entries separated by commas, spaces or new lines."""
        return cls(text.replace(",", " ").split())

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterns)

    def allows(self, email: str) -> bool:
        """Whether ``email`` (a verified address) is on the list."""
        address = email.strip().lower()
        if address.count("@") != 1 or not address.split("@")[0] or not address.split("@")[1]:
            return False
        if address in self.exact:
            return True
        local, domain = address.split("@")
        for pattern in self.patterns:
            p_local, _, p_domain = pattern.partition("@")
            # The domain is compared exactly so a wildcard never spans into another domain.
            if p_domain == domain and fnmatchcase(local, p_local):
                return True
        return False

    __call__ = allows
