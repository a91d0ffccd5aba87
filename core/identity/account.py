"""What the settings page shows of a person: who they are, their accounts, Google, and the registry's fields."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core.db.repositories import UserRecord
from core.people import People
from core.settings.form import FormRow, SettingsForm
from core.settings.registry import Change, SettingsRegistry

log = logging.getLogger(__name__)

GoogleStatus = Callable[[int], Awaitable[str]]  # user id -> "connected" | "not_connected" | "broken"
_GOOGLE_WORDS = {
    "connected": "Connected",
    "not_connected": "Not connected (use /connect google in the chat)",
    "broken": "Needs reconnecting (Google refused the connection: use /connect google)",
}


@dataclass(frozen=True, slots=True)
class AccountView:
    """Everything the page shows, already in words; ``settings`` are the form's rows."""

    display_name: str
    email: str
    accounts: list[tuple[str, str]]  # (platform, workspace)
    google: str
    settings: list[FormRow]


class AccountSettings:
    """Reads a user's settings for the page and applies the page's form (through the settings registry)."""

    def __init__(
        self, *, people: People, registry: SettingsRegistry, google_status: GoogleStatus | None = None
    ) -> None:
        """``google_status`` is None when Google is not configured on this assistant."""
        self.people = people
        self.form = SettingsForm(registry)
        self.google_status = google_status

    async def view(self, user: UserRecord) -> AccountView:
        """The current settings of ``user`` (read fresh from the database)."""
        asker = await self.form.asker(user.id)
        accounts = [(a.platform, a.workspace) for a in await self.people.accounts_of(user.id)]
        if self.google_status is None:
            google = "Not available on this assistant"
        else:
            status = str(await self.google_status(user.id))
            google = _GOOGLE_WORDS.get(status, status)
        return AccountView(
            display_name=asker.person.display_name,
            email=asker.person.email or "",
            accounts=sorted(set(accounts)),
            google=google,
            settings=self.form.rows(asker),
        )

    async def apply(self, user: UserRecord, form: Mapping[str, str]) -> Change:
        """Check every field, then store those that changed; the registry refreshes every process's caches."""
        return await self.form.apply(await self.form.asker(user.id), form)
