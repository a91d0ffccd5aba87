"""Who may talk to the assistant: the allowlist of platform accounts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.types import PlatformIdentity

KNOWN_PLATFORMS = frozenset({"discord", "slack", "terminal", "test"})
_UNREADABLE = re.compile(r"[\s\x00-\x1f\x7f]")


def _part_regex(pattern: str) -> re.Pattern[str]:
    """Only ``*`` is a wildcard (any run of characters within this part); everything else is literal."""
    return re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")), re.DOTALL)


@dataclass(frozen=True, slots=True)
class AccountPattern:
    """One allowlist entry, ``platform:workspace:user_id``, each part matched on its own.

    Missing trailing parts mean any (``terminal`` is ``terminal:*:*``); the user
    part takes the rest of the entry, so a user id may contain colons.  An empty
    part matches nothing (``slack::U1`` is a typo, not a wildcard).
    """

    platform: str
    workspace: str
    user_id: str
    source: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> AccountPattern:
        parts = [part.strip() for part in text.strip().split(":", 2)]
        parts += ["*"] * (3 - len(parts))
        return cls(*parts, source=text.strip())

    def matches(self, identity: PlatformIdentity) -> bool:
        """Whether ``identity`` is the account (or one of the accounts) this entry names."""
        return all(
            bool(pattern) and _part_regex(pattern).fullmatch(value) is not None
            for pattern, value in (
                (self.platform, identity.platform),
                (self.workspace, identity.workspace),
                (self.user_id, identity.user_id),
            )
        )

    def problems(self, platforms: Iterable[str] = KNOWN_PLATFORMS) -> list[str]:
        """Why this entry can never let anyone in (empty when it can)."""
        known = sorted(platforms)
        found: list[str] = []
        for label, part in (("platform", self.platform), ("workspace", self.workspace), ("user", self.user_id)):
            if not part:
                found.append(f"its {label} part is empty")
            elif _UNREADABLE.search(part):
                found.append(f"its {label} part contains spaces or control characters")
            elif "?" in part or "[" in part:
                found.append(f"its {label} part has ? or [ which match only themselves (use * as the wildcard)")
        if self.platform and not any(_part_regex(self.platform).fullmatch(name) for name in known):
            found.append(f"{self.platform!r} is not a platform (known: {', '.join(known)})")
        elif ":" in self.user_id and self.platform in KNOWN_PLATFORMS:  # their ids have no colon
            found.append("it has more than three parts")
        return found


def pattern_warnings(patterns: Iterable[str], platforms: Iterable[str] = KNOWN_PLATFORMS) -> list[str]:
    """One sentence per allowlist entry that can never match anyone, for a log line at start."""
    return AccessPolicy(patterns).warnings(platforms)


class AccessPolicy:
    """An allowlist of platform accounts.

    Each entry is ``platform:workspace:user_id`` where only ``*`` is a wildcard
    and each part is matched on its own, so ``*`` never reaches into another
    part; a shorter entry matches the rest (``terminal`` or ``terminal:*`` lets
    in every terminal user, ``discord:*:123456`` one Discord account anywhere).
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.patterns = tuple(AccountPattern.parse(text) for text in allowed if text.strip())

    def allows(self, identity: PlatformIdentity) -> bool:
        """Whether this account may use the assistant."""
        return any(pattern.matches(identity) for pattern in self.patterns)

    def warnings(self, platforms: Iterable[str] = KNOWN_PLATFORMS) -> list[str]:
        """Sentences about entries that can never match, to log at start."""
        known = tuple(platforms)
        return [
            f"allowed account {pattern.source!r} can never match: {'; '.join(problems)}"
            for pattern in self.patterns
            if (problems := pattern.problems(known))
        ]
