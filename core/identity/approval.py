"""Linking after sign-in, made safe against forwarded links: the signer confirms, an existing account approves.

A sign-in link is bound to the account that asked for it, but anyone can open it: a
stranger's link opened by Ada would make the stranger's account Ada's. So Google's
answer only opens a confirmation page naming the account ("Link Discord user eve (666)
to ada@…?"); its POST links at once only when the email has no other account yet.
Otherwise every existing account of that email gets a DM with an Approve / Deny page,
the account is linked only once one of them approves, and all of them hear the result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.events import AccountLinked, EventBus
from core.identity.link_requests import LinkRequestStore, PendingLink
from core.identity.linking import AccountLinker
from core.identity.results import Outcome, SignInResult, describe
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

APPROVE_PATH = "/signin/approve"
Tell = Callable[[list[PlatformIdentity], str], Awaitable[None]]

ASK = (
    "Someone signed in with Google as {email} and asked to link {account} to your account. "
    "If that was you, approve it here; if not, deny it: {link} "
    "(nothing is linked until one of your accounts approves; the link works for a day)."
)
LINKED_TOLD = "{account} is now linked to your account ({email}). If that was not you, tell the assistant's owner."
DENIED_TOLD = "Denied: {account} was not linked to your account ({email})."
CONFIRM_GONE = "This confirmation no longer works (it works once, for 10 minutes). Ask the assistant for a new link."
APPROVAL_GONE = "This approval link no longer works (it was already used, or it is older than a day)."


class LinkApproval:
    """Confirms, approves and denies pending links (see the module docstring)."""

    def __init__(
        self,
        *,
        requests: LinkRequestStore,
        linker: AccountLinker,
        public_url: str,
        events: EventBus | None = None,
        tell: Tell | None = None,
    ) -> None:
        """``tell`` DMs accounts (IdentityNotices.tell); the container sets it once the Outbox exists."""
        self.requests = requests
        self.linker = linker
        self.public_url = public_url.rstrip("/")
        self.events = events
        self.tell = tell

    async def ask(self, identity: PlatformIdentity, email: str) -> SignInResult:
        """Google verified ``email`` for a sign-in of ``identity``: the page asks the person to confirm."""
        token = await self.requests.create(identity, email)
        return SignInResult(
            Outcome.CONFIRM,
            f"Link {describe(identity)} to {email}?",
            identity,
            email=email,
            confirm_token=token,
        )

    async def confirm(self, token: str) -> SignInResult:
        """The confirmation page's POST: link now (first account of the email) or ask the existing accounts."""
        pending = await self.requests.claim_confirmation(token)
        if pending is None:
            return SignInResult(Outcome.INVALID_LINK, CONFIRM_GONE)
        who, email = pending.identity, pending.email
        owner, accounts = await self.linker.owner_accounts(email)
        others = [a for a in accounts if a.key != who.key]
        if owner is None or not others:
            return await self._link(pending, f"You're in, signed in as {email}.")
        link = f"{self.public_url}{APPROVE_PATH}/{await self.requests.await_approval(pending.id)}"
        await self._tell(others, ASK.format(email=email, account=describe(who), link=link))
        log.info("%s asked to join user %s: waiting for one of its %d account(s)", who.key, owner, len(others))
        where = ", ".join(sorted({a.platform.capitalize() for a in others}))
        return SignInResult(
            Outcome.AWAITING_APPROVAL,
            f"{email} already uses this assistant from other accounts ({where}). I asked them to approve "
            f"{describe(who)}; it is linked as soon as one of them does.",
            who,
            owner,
            email,
        )

    async def cancel(self, token: str) -> None:
        """The person pressed Cancel on the confirmation page: the request is used up, nothing is linked."""
        pending = await self.requests.claim_confirmation(token)
        if pending is not None:
            await self.requests.finish(pending.id, "cancelled")
            log.info("the link of %s was cancelled on the confirmation page", pending.identity.key)

    async def review(self, token: str) -> PendingLink | None:
        """The request an approval link is for, while it waits (for the page that shows it)."""
        return await self.requests.awaiting(token)

    async def decide(self, token: str, *, approve: bool) -> SignInResult:
        """An existing account's answer (the approval page's POST); every existing account is told."""
        pending = await self.requests.decide(token, approve=approve)
        if pending is None:
            return SignInResult(Outcome.INVALID_LINK, APPROVAL_GONE)
        who, email = pending.identity, pending.email
        _, accounts = await self.linker.owner_accounts(email)
        others = [a for a in accounts if a.key != who.key]
        if not approve:
            log.info("linking %s to an existing user was denied", who.key)
            await self._tell(others, DENIED_TOLD.format(account=describe(who), email=email))
            return SignInResult(
                Outcome.LINK_DENIED,
                f"Linking {describe(who)} to {email} was denied, so nothing was linked.",
                who,
                email=email,
            )
        result = await self._link(pending, f"Approved: {describe(who)} is now linked to {email}.")
        await self._tell(others, LINKED_TOLD.format(account=describe(who), email=email))
        return result

    async def _link(self, pending: PendingLink, message: str) -> SignInResult:
        user_id = await self.linker.link(pending.identity, pending.email)
        await self.requests.finish(pending.id, "linked")
        if self.events is not None:
            await self.events.publish(AccountLinked(pending.identity, user_id))
        log.info("%s signed in as user %s", pending.identity.key, user_id)
        return SignInResult(Outcome.SIGNED_IN, message, pending.identity, user_id, pending.email)

    async def _tell(self, accounts: list[PlatformIdentity], text: str) -> None:
        if self.tell is None or not accounts:
            log.warning("could not tell %d account(s) about a link request: no messenger", len(accounts))
            return
        await self.tell(accounts, text)
