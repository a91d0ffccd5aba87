"""Sign-in with Google and "connect Google": short link → consent → callback → link or store tokens.

The link sent in a DM is ``PUBLIC_URL/signin/<state>``: the state is random, single use,
expires after 10 minutes and is bound to the platform account that asked, and nothing
from the callback request chooses the account or where the browser goes next. Whoever
finishes the consent is then asked to confirm which account is being linked, and an
email that already has accounts needs one of them to approve (core/identity/approval.py).
"""

from __future__ import annotations

import logging

from core.events import AccountLinked, EventBus
from core.google.oauth import (
    CALENDAR_EVENTS,
    CONNECT_SCOPES,
    DRIVE_FILE,
    SIGNIN_SCOPES,
    GoogleOAuth,
    IdTokenInvalid,
    OAuthExchangeError,
    TokenGrant,
    new_code_verifier,
)
from core.google.tokens import GoogleTokenStore
from core.identity.allowlist import EmailAllowlist
from core.identity.approval import LinkApproval
from core.identity.link_requests import LinkRequestStore
from core.identity.linking import AccountLinker
from core.identity.results import Outcome, SignInResult
from core.identity.states import OAuthStateStore, PendingState, Purpose, StateProblem, StateRefused
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

# The states a short link (/signin/<state>) may use; other purposes (the settings page) are refused there.
GOOGLE_PURPOSES = frozenset({Purpose.SIGNIN, Purpose.CONNECT_GOOGLE})
# The states the callback may use: those, and the web app's own "Sign in with Google" (started by a POST).
CALLBACK_PURPOSES = GOOGLE_PURPOSES | {Purpose.WEB_SIGNIN}
# The account of a state made by "Sign in with Google" before Google said who it is.
WEB_PENDING = PlatformIdentity("google", "", "", "")

CALLBACK_PATH = "/oauth/google/callback"


_STATE_MESSAGES = {
    StateProblem.UNKNOWN: "This sign-in link is not valid. Ask the assistant for a new one.",
    StateProblem.USED: "This sign-in link was already used. Ask the assistant for a new one.",
    StateProblem.EXPIRED: "This sign-in link has expired (links last 10 minutes). Ask the assistant for a new one.",
}


WEB_OTHER_BROWSER = (
    "This sign-in was started in another browser (or its cookie is gone), so nothing happened. "
    "Press Sign in with Google again in this browser."
)
WRONG_GOOGLE = (
    "Nothing was connected: {email} is not the Google account this assistant account signed in with. "
    "Connect again and choose that Google account (a /connect link is for its own person only)."
)


class SignIn:
    """Starts and completes sign-ins (``signin``) and Google connections (``connect_google``)."""

    def __init__(
        self,
        *,
        oauth: GoogleOAuth,
        states: OAuthStateStore,
        linker: AccountLinker,
        allowlist: EmailAllowlist,
        tokens: GoogleTokenStore,
        public_url: str,
        events: EventBus | None = None,
        approval: LinkApproval | None = None,
    ) -> None:
        """``approval`` defaults to one on the states' database (confirmation page, owners' approval), which
        publishes :class:`AccountLinked` on ``events``."""
        self.oauth = oauth
        self.states = states
        self.linker = linker
        self.allowlist = allowlist
        self.tokens = tokens
        self.public_url = public_url.rstrip("/")
        self.events = events
        self.approval = approval or LinkApproval(
            requests=LinkRequestStore(states.db, clock=states.clock),
            linker=linker,
            public_url=public_url,
            events=events,
        )

    async def start(self, identity: PlatformIdentity) -> str:
        """A short single-use sign-in link for this platform account."""
        state = await self.states.create(Purpose.SIGNIN, identity, new_code_verifier())
        return f"{self.public_url}/signin/{state}"

    async def start_connect(self, identity: PlatformIdentity, user_id: int) -> str:
        """A short single-use link to connect the user's Google Drive and Calendar."""
        state = await self.states.create(Purpose.CONNECT_GOOGLE, identity, new_code_verifier(), user_id=user_id)
        return f"{self.public_url}/signin/{state}"

    async def start_web(self) -> tuple[str, str]:
        """A sign-in to the web app with Google: the new state and Google's consent URL for it.

        The caller binds the state to the browser (a cookie the callback compares with it)."""
        verifier = new_code_verifier()
        state = await self.states.create(Purpose.WEB_SIGNIN, WEB_PENDING, verifier)
        return state, self.oauth.authorization_url(state=state, code_verifier=verifier, scopes=SIGNIN_SCOPES)

    async def consent_url(self, state: str) -> str:
        """Google's consent URL for a pending link; raises StateRefused when the link is no longer valid."""
        pending = await self.states.peek(state)
        if pending.purpose not in GOOGLE_PURPOSES:  # e.g. a settings-page link pasted here
            raise StateRefused(StateProblem.UNKNOWN)
        scopes = SIGNIN_SCOPES if pending.purpose is Purpose.SIGNIN else CONNECT_SCOPES
        return self.oauth.authorization_url(state=state, code_verifier=pending.code_verifier, scopes=scopes)

    async def connect_to_confirm(self, state: str) -> PlatformIdentity | None:
        """The account a /connect link is for, when its user never signed in with Google (no verified email
        to compare Google's answer with): the link's page then asks before going on. None otherwise."""
        pending = await self.states.peek(state)
        if pending.purpose is not Purpose.CONNECT_GOOGLE or pending.user_id is None:
            return None
        return pending.identity if await self.linker.email_of(pending.user_id) is None else None

    def state_message(self, problem: StateProblem) -> str:
        return _STATE_MESSAGES[problem]

    async def complete(
        self, state: str, code: str | None, *, error: str | None = None, same_browser: bool = False
    ) -> SignInResult:
        """Finish at the callback: use up the state, exchange the code, verify the ID token, then link or store.

        ``same_browser``: the callback came with the cookie :meth:`start_web` 's caller set for this state;
        a web sign-in without it (a callback URL sent to someone else's browser) is refused."""
        try:
            if (await self.states.peek(state)).purpose not in CALLBACK_PURPOSES:
                raise StateRefused(StateProblem.UNKNOWN)  # never used up by a callback that is not its own
            pending = await self.states.consume(state)
        except StateRefused as refused:
            log.info("sign-in callback refused: state %s", refused.problem.value)
            return SignInResult(Outcome.INVALID_LINK, _STATE_MESSAGES[refused.problem])
        if pending.purpose is Purpose.WEB_SIGNIN and not same_browser:
            log.info("web sign-in refused: the callback came to another browser than the one that started it")
            return SignInResult(Outcome.INVALID_LINK, WEB_OTHER_BROWSER)
        who = pending.identity
        if error or not code:
            log.info("sign-in for %s ended at Google: %s", who.key, (error or "no code")[:40])
            return SignInResult(
                Outcome.DENIED, "Sign-in was cancelled. Ask the assistant for a new link to try again.", who
            )
        scopes = SIGNIN_SCOPES if pending.purpose is Purpose.SIGNIN else CONNECT_SCOPES
        try:
            grant = await self.oauth.exchange(code=code, code_verifier=pending.code_verifier, scopes=scopes)
            if not grant.id_token:
                raise IdTokenInvalid("Google's answer had no ID token")
            verified = await self.oauth.verify_id_token(grant.id_token)
        except (OAuthExchangeError, IdTokenInvalid) as exc:
            log.warning("sign-in for %s failed: %s", who.key, exc)
            return SignInResult(
                Outcome.FAILED, "Google's answer could not be verified, so nothing was changed. Please try again.", who
            )
        if pending.purpose is Purpose.CONNECT_GOOGLE:
            return await self._connect(pending, grant, verified.email)
        if pending.purpose is Purpose.WEB_SIGNIN:
            return await self._web(verified.email, verified.subject)
        if not self.allowlist.allows(verified.email):
            log.info("sign-in for %s refused: %s is not on the allowlist", who.key, verified.email)
            return SignInResult(
                Outcome.NOT_ALLOWED,
                f"{verified.email} is not allowed to use this assistant. Ask its owner to add you.",
                who,
                email=verified.email,
            )
        # Nothing is linked yet: the link may have been forwarded, so the page names the account first.
        return await self.approval.ask(who, verified.email)

    async def _web(self, email: str, subject: str) -> SignInResult:
        """The web app's sign-in: the Google account itself is the person's account (no approval needed: it
        is the verified owner of the email), linked to the user of that email (made when there is none)."""
        if not self.allowlist.allows(email) or not subject:
            log.info("web sign-in refused: %s is not on the allowlist", email)
            return SignInResult(
                Outcome.NOT_ALLOWED, f"{email} is not allowed to use this assistant. Ask its owner to add you.",
                email=email,
            )  # fmt: skip
        account = PlatformIdentity("google", "", subject, email)
        user_id = await self.linker.link(account, email)  # every process decides this account again
        if self.events is not None:
            await self.events.publish(AccountLinked(account, user_id))
        log.info("user %s signed in to the web app with Google", user_id)
        return SignInResult(Outcome.WEB_SIGNED_IN, f"Signed in as {email}.", account, user_id, email)

    async def _connect(self, pending: PendingState, grant: TokenGrant, email: str) -> SignInResult:
        who = pending.identity
        if pending.user_id is None:
            return SignInResult(
                Outcome.FAILED, "This connection link belongs to no user. Ask the assistant for a new one.", who
            )
        missing = [
            name for scope, name in ((DRIVE_FILE, "Drive"), (CALENDAR_EVENTS, "Calendar")) if scope not in grant.scopes
        ]
        if missing:
            return SignInResult(
                Outcome.FAILED,
                f"Google did not grant access to {' and '.join(missing)}; connect again and allow it.",
                who,
                pending.user_id,
                email,
            )
        owner_email = await self.linker.email_of(pending.user_id)
        if owner_email is not None and owner_email != email.strip().lower():
            # A forwarded /connect link: never store someone else's Google under this user.
            log.info("user %s: a connect link was finished with another Google account: not stored", pending.user_id)
            return SignInResult(Outcome.FAILED, WRONG_GOOGLE.format(email=email), who, pending.user_id)
        if not grant.refresh_token:
            return SignInResult(
                Outcome.FAILED, "Google gave no lasting access. Please connect again.", who, pending.user_id, email
            )
        await self.tokens.save(
            pending.user_id,
            refresh_token=grant.refresh_token,
            access_token=grant.access_token,
            expiry=grant.expiry,
            scopes=grant.scopes,
            google_email=email,
        )
        log.info("user %s connected Google", pending.user_id)
        return SignInResult(
            Outcome.CONNECTED, f"Google Drive and Calendar are connected ({email}).", who, pending.user_id, email
        )
