"""DMs about sign-in and the Google connection, sent in the background through the Outbox.

- After a sign-in: "you're in" (or why not, or "waiting for approval") in the DM of the account that signed in;
  "you're in" and "Google is connected" through `speak`, so the person's history keeps them.
- A link request: the email's existing accounts get the Approve / Deny link, then the result (``tell``).
- When Google refuses a user's stored connection: a DM with a fresh link to connect again
  (at most once per ``reconnect_every`` seconds per user, per process), said through `speak`
  so the conversation's history keeps it (the single-use link itself left out) and the
  model knows it asked.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from core.identity.signin import Outcome, SignIn, SignInResult
from core.messenger import DeliveryError, Outbox
from core.speak import Speak
from core.tasks import BackgroundTasks
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

AFTER_SIGN_IN = " Write to me here any time. /connect google links your Google Drive and Calendar."
AFTER_CONNECT = " Ask me about your calendar, or try /calendar."
RECONNECT = (
    "Google no longer accepts my connection to your Drive and Calendar (it was revoked or has expired). "
    "Connect again here: {link}\n(The link works once, for 10 minutes.)"
)
# What the history keeps: the link is a credential while it lasts, not for the model to read.
LINK_LEFT_OUT = "[a link to connect Google again, sent only to the person]"

WAITING = (
    "Almost there: that Google account already uses this assistant from other accounts, so one of them "
    "must approve this one first. I asked them; I'll tell you here once they answer."
)

NOT_APPROVED = "That Google account's other accounts did not approve this one, so it was not linked."

AccountsOf = Callable[[int], Awaitable[list[PlatformIdentity]]]


class IdentityNotices:
    """Tells people, in their DMs, what happened to their sign-in or Google connection."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        tasks: BackgroundTasks,
        accounts_of: AccountsOf,
        speak: Speak | None = None,
        signin: SignIn | None = None,
        reconnect_every: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.tasks = tasks
        self.accounts_of = accounts_of
        self.speak = speak
        self.signin = signin
        self.reconnect_every = reconnect_every
        self.monotonic = monotonic
        self._reconnect_sent: dict[int, float] = {}

    async def signed_in(self, result: SignInResult) -> None:
        """The web server's hook: DM the account the callback was for (spawned, so the page is not held up)."""
        if result.identity is None:
            return
        text = result.message
        if result.outcome is Outcome.CONFIRM:
            return  # nothing happened yet: the page asks the person to confirm
        if result.outcome is Outcome.SIGNED_IN:
            text = f"You're in, signed in as {result.email}." + AFTER_SIGN_IN
        elif result.outcome is Outcome.AWAITING_APPROVAL:
            text = WAITING  # the page's sentence names the email and its platforms: not for this account
        elif result.outcome is Outcome.LINK_DENIED:
            text = NOT_APPROVED
        elif result.outcome is Outcome.CONNECTED:
            text += AFTER_CONNECT
            if result.user_id is not None:
                self._reconnect_sent.pop(result.user_id, None)
        identity, user_id = result.identity, result.user_id
        if self.speak is not None and user_id is not None and result.outcome in (Outcome.SIGNED_IN, Outcome.CONNECTED):
            # Said through speak: the conversation's history keeps it, so the model knows what it told them.
            key = f"signin:{identity.key}:{secrets.token_hex(8)}"  # one notice, the same key on each retry
            speak = self.speak
            self.tasks.spawn(f"signin-dm:{identity.key}", lambda: speak(user_id, key=key, text=text, only=identity))
            return
        self.tasks.spawn(f"signin-dm:{identity.key}", lambda: self.outbox.send_to_account(identity, text))

    async def tell(self, accounts: list[PlatformIdentity], text: str) -> None:
        """DM each of ``accounts`` (in the background; a failed delivery is logged, the others still go)."""
        for account in accounts:
            self.tasks.spawn(f"link-dm:{account.key}", lambda a=account: self._tell_one(a, text))

    async def _tell_one(self, account: PlatformIdentity, text: str) -> None:
        try:
            await self.outbox.send_to_account(account, text)
        except DeliveryError as exc:
            log.warning("could not tell %s about a link request: %s", account.key, exc.reason)

    def reconnect_needed(self, user_id: int) -> None:
        """Google refused the user's connection: DM them a link to connect again (in the background)."""
        if self.signin is None:
            return
        now = self.monotonic()
        sent = self._reconnect_sent.get(user_id)
        if sent is not None and now - sent < self.reconnect_every:
            return
        self._reconnect_sent[user_id] = now
        key = f"reconnect:{user_id}:{secrets.token_hex(8)}"  # one notice, the same key on each retry of its task
        self.tasks.spawn(f"reconnect-dm:{user_id}", lambda: self._send_reconnect(user_id, key))

    async def _send_reconnect(self, user_id: int, key: str) -> None:
        assert self.signin is not None
        # Where speak would say it (the platform they chose, else the one used last): the link is bound
        # to the account it is sent to, like a sign-in link, so it goes there and nowhere else.
        reachable = await self.speak.accounts(user_id) if self.speak is not None else []
        accounts = reachable or await self.accounts_of(user_id)
        if not accounts:
            log.warning("user %s needs to reconnect Google but has no account to tell", user_id)
            return
        account = next((a for a in accounts if a.platform in self.outbox.platforms), accounts[0])
        link = await self.signin.start_connect(account, user_id)
        if self.speak is None:
            await self.outbox.send_to_account(account, RECONNECT.format(link=link))
        else:
            remember = RECONNECT.format(link=LINK_LEFT_OUT)
            await self.speak(user_id, key=key, text=RECONNECT.format(link=link), only=account, remember=remember)
        log.info("asked user %s to connect Google again", user_id)
