"""What a step of sign-in decided, in words for the browser page and the DM (shared by sign-in and approval)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.types import PlatformIdentity


class Outcome(enum.StrEnum):
    SIGNED_IN = "signed_in"
    CONNECTED = "connected"
    CONFIRM = "confirm"  # Google said who it is: the person confirms the link on the page first
    AWAITING_APPROVAL = "awaiting_approval"  # the email's user has other accounts: one of them must approve
    LINK_DENIED = "link_denied"  # an existing account denied the link
    NOT_ALLOWED = "not_allowed"
    DENIED = "denied"  # the person cancelled on Google's consent screen
    INVALID_LINK = "invalid_link"  # unknown, used or expired state
    FAILED = "failed"  # Google's answer could not be trusted or obtained
    WEB_SIGNED_IN = "web_signed_in"  # signed in to the web app with Google: the callback opens a session


@dataclass(frozen=True, slots=True)
class SignInResult:
    """What a step decided; ``message`` is one sentence for the browser page and the DM.

    ``confirm_token`` is set with :attr:`Outcome.CONFIRM`: the page's form sends it back."""

    outcome: Outcome
    message: str
    identity: PlatformIdentity | None = None
    user_id: int | None = None
    email: str | None = None
    confirm_token: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.SIGNED_IN, Outcome.CONNECTED)


def describe(identity: PlatformIdentity) -> str:
    """An account in words: "Discord user eve (666)", "Slack user ada (U222 in workspace T1)"."""
    platform = identity.platform.capitalize()
    name = identity.display_name.strip() or identity.user_id
    where = f" in workspace {identity.workspace}" if identity.platform == "slack" and identity.workspace else ""
    if name == identity.user_id and not where:
        return f"{platform} user {name}"
    return f"{platform} user {name} ({identity.user_id}{where})"
