"""Who may see the settings page: single-use links, then a short signed session and its CSRF token.

The link (``PUBLIC_URL/settings/<token>``) is an ``oauth_states`` row with purpose
``settings_page``: hashed, single use, 10 minutes, bound to the platform account and
its user.  Opening it gives a session cookie signed with an HMAC of ``SECRET_KEY``;
every request re-checks the account through ``People.admit``, so a sign-out or an
email taken off the allowlist ends the session at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.clock import Clock, system_clock
from core.db.repositories import UserRecord
from core.identity.states import OAuthStateStore, Purpose, StateProblem, StateRefused
from core.people import People
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(minutes=30)
LINK_PATH = "/settings"


@dataclass(frozen=True, slots=True)
class SettingsSession:
    """A checked session: the user it belongs to (as admitted now) and the account that asked for the link."""

    user: UserRecord
    identity: PlatformIdentity
    csrf: str


class SettingsAccess:
    """Issues settings links and sessions, and checks them."""

    def __init__(
        self,
        *,
        states: OAuthStateStore,
        people: People,
        secret_key: str,
        public_url: str,
        clock: Clock = system_clock,
        session_lifetime: timedelta = SESSION_LIFETIME,
    ) -> None:
        if not secret_key:
            raise ValueError("the settings page needs SECRET_KEY to sign its sessions")
        self.states = states
        self.people = people
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.session_lifetime = session_lifetime
        # A key of its own, derived from SECRET_KEY, so these MACs never equal anything else signed with it.
        self._key = hmac.new(secret_key.encode(), b"captainslog settings session v1", hashlib.sha256).digest()

    @property
    def secure_cookie(self) -> bool:
        """Send the cookie over https only when users reach the bot through https."""
        return self.public_url.startswith("https://")

    async def link(self, identity: PlatformIdentity, user_id: int) -> str:
        """A single-use link to the settings page of ``user_id``, for 10 minutes."""
        token = await self.states.create(Purpose.SETTINGS_PAGE, identity, "", user_id=user_id)
        return f"{self.public_url}{LINK_PATH}/{token}"

    async def check_link(self, token: str) -> None:
        """Raise StateRefused unless ``token`` is a settings link that still works (nothing is used up)."""
        pending = await self.states.peek(token)
        if pending.purpose is not Purpose.SETTINGS_PAGE or pending.user_id is None:
            raise StateRefused(StateProblem.UNKNOWN)

    async def open(self, token: str) -> str:
        """Use up a link and return the session cookie's value; raises StateRefused when the link is not valid.

        A sign-in or connect state is refused without being used up (it still works where it belongs)."""
        await self.check_link(token)
        pending = await self.states.consume(token)
        expires = int((self.clock() + self.session_lifetime).timestamp())
        who = pending.identity
        payload = {
            "u": pending.user_id,
            "p": who.platform,
            "w": who.workspace,
            "i": who.user_id,
            "e": expires,
            "n": secrets.token_urlsafe(8),
        }
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        log.info("settings page opened by %s (user %s)", who.key, pending.user_id)
        return f"{body}.{self._mac('session', body)}"

    async def session(self, cookie: str | None) -> SettingsSession | None:
        """The session of this cookie, or None when it is missing, forged, expired or its account lost access."""
        if not cookie or "." not in cookie or len(cookie) > 2000:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac("session", body)):
            log.info("settings page: a session cookie with a wrong signature was refused")
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            user_id, expires = int(payload["u"]), int(payload["e"])
            identity = PlatformIdentity(str(payload["p"]), str(payload["w"]), str(payload["i"]))
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= self.clock().timestamp():
            return None
        if await self.states.is_used(Purpose.SIGNED_OUT, _session_key(payload)):
            return None  # signed out: a copy of the cookie does not work either
        admission = await self.people.admit(identity)
        if not admission.allowed or admission.user is None or admission.user.id != user_id:
            log.info("settings page: %s no longer has access as user %s", identity.key, user_id)
            return None
        return SettingsSession(admission.user, identity, self._mac("csrf", cookie))

    async def sign_out(self, session: SettingsSession, cookie: str) -> None:
        """End the session for good (not only in this browser): its cookie is refused from now on."""
        body = cookie.rsplit(".", 1)[0]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        until = datetime.fromtimestamp(int(payload["e"]), tz=UTC)
        await self.states.mark_used(
            Purpose.SIGNED_OUT, _session_key(payload), session.identity, user_id=session.user.id, until=until
        )

    def _mac(self, label: str, value: str) -> str:
        return hmac.new(self._key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()


def _session_key(payload: dict[str, object]) -> str:
    """What a session's sign-out is recorded under: its random nonce (the cookie itself is never stored)."""
    return f"settings-session:{payload.get('n', '')}"
