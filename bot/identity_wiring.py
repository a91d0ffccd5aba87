"""Builds sign-in, the Google services and the web server from the settings (called by the container)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import ConfigError
from bot.settings_page import SettingsPage
from bot.web import WebServer, create_app
from bot.web_checks import web_problems
from bot.webapp import WebApp
from core.clock import Clock, system_clock
from core.db.database import Database
from core.events import EventBus, GoogleBroken, SignInFinished
from core.features import FeatureContext, FeatureParts, Subscription
from core.google.api import GoogleApi
from core.google.availability import GoogleAvailability
from core.google.calendar import CalendarClient
from core.google.connection import GoogleConnections
from core.google.credentials import GoogleCredentialsProvider
from core.google.drive import DriveClient
from core.google.oauth import GoogleClientConfig, GoogleOAuth
from core.google.tokens import GoogleTokenStore, TokenCipher
from core.google.tools import calendar_tools
from core.identity.allowlist import EmailAllowlist
from core.identity.commands import GoogleParts, IdentityCommands, identity_commands
from core.identity.link_requests import LinkRequestStore
from core.identity.linking import AccountLinker
from core.identity.notices import IdentityNotices
from core.identity.profile import Profiles
from core.identity.settings_fields import drive_folder_field, name_field
from core.identity.signin import CALLBACK_PATH, SignIn
from core.identity.states import OAuthStateStore
from core.tools.confirm import ConfirmationStep, PendingActions, confirm_first
from core.tools.registry import ToolRegistry
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

SettingsLink = Callable[[PlatformIdentity, int], Awaitable[str]]


@dataclass(frozen=True)
class GoogleServices:
    """Everything that needs the Google client (present only when GOOGLE_CLIENT_ID/SECRET are set)."""

    signin: SignIn
    tokens: GoogleTokenStore
    connections: GoogleConnections
    drive: DriveClient
    calendar: CalendarClient


@dataclass(frozen=True)
class IdentityServices:
    allowlist: EmailAllowlist
    linker: AccountLinker
    google: GoogleServices | None
    events: EventBus  # sign-ins are published here (the web server's callbacks, link approvals)


def google_client_config(settings: Settings) -> GoogleClientConfig:
    """The OAuth client config from the settings; the redirect URI is PUBLIC_URL + the callback path."""
    secret = settings.google_client_secret.get_secret_value() if settings.google_client_secret else ""
    return GoogleClientConfig(
        client_id=settings.google_client_id,
        client_secret=secret,
        redirect_uri=settings.public_base_url + CALLBACK_PATH,
        auth_url=settings.google_auth_url,
        token_url=settings.google_token_url,
        certs_url=settings.google_certs_url,
        revoke_url=settings.google_revoke_url,
        timeout=settings.google_timeout,
    )


def token_cipher(settings: Settings) -> TokenCipher:
    """The cipher of SECRET_KEY (+ SECRET_KEY_OLD); ConfigError when SECRET_KEY is unset."""
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not key:
        raise ConfigError(
            "SECRET_KEY is not set: Google sign-in stores tokens encrypted with it. "
            'Set it to a long random string (python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    return TokenCipher(key, settings.secret_key_old)


def build_identity(
    settings: Settings,
    db: Database,
    *,
    clock: Clock = system_clock,
    events: EventBus | None = None,
) -> IdentityServices:
    """The allowlist, the linker and the Google services (when configured); :func:`build_web_server` makes
    the web server that serves their callbacks, once everything it serves is built.

    Sign-ins are published on ``events`` (:class:`SignInFinished`, :class:`AccountLinked`): subscribe first.

    Raises ConfigError when the web server would run with a weak SECRET_KEY or a PUBLIC_URL that is
    not an absolute http(s) address (bot/web_checks.py)."""
    events = events if events is not None else EventBus()
    problems = web_problems(settings)
    if problems:
        raise ConfigError(" ".join(problems))
    allowlist = EmailAllowlist(settings.allowed_emails)
    linker = AccountLinker(db, clock=clock)
    google: GoogleServices | None = None
    if settings.google_configured:
        cipher = token_cipher(settings)
        config = google_client_config(settings)
        oauth = GoogleOAuth(config)
        tokens = GoogleTokenStore(db, cipher, clock=clock)
        api = GoogleApi(
            GoogleCredentialsProvider(tokens, config), api_url=settings.google_api_url, timeout=settings.google_timeout
        )
        signin = SignIn(
            oauth=oauth,
            states=OAuthStateStore(db, cipher, clock=clock),
            linker=linker,
            allowlist=allowlist,
            tokens=tokens,
            public_url=settings.public_base_url,
            events=events,
        )
        google = GoogleServices(signin, tokens, GoogleConnections(tokens, oauth), DriveClient(api), CalendarClient(api))
    elif allowlist:
        raise ConfigError(
            "ALLOWED_EMAILS is set but GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not: nobody could sign in."
        )
    return IdentityServices(allowlist, linker, google, events)


def build_web_server(
    settings: Settings,
    ids: IdentityServices,
    *,
    settings_page: SettingsPage | None = None,
    webapp: WebApp | None = None,
) -> WebServer:
    """The one web server (not started), built last with everything it serves: the sign-in callbacks, the
    settings page and the web app (None: those answer 404)."""
    signin = ids.google.signin if ids.google is not None else None
    app = create_app(signin=signin, events=ids.events, settings_page=settings_page, webapp=webapp)
    return WebServer(app, host=settings.web_host, port=settings.web_port)


async def tidy_at_start(
    settings: Settings, db: Database, ids: IdentityServices, *, clock: Clock = system_clock
) -> None:
    """At start: re-encrypt stored Google tokens when SECRET_KEY_OLD is set (a rotation is under way), and
    delete expired sign-in states and link requests (they name strangers' accounts)."""
    if ids.google is not None and settings.secret_key_old:
        done, unreadable = await ids.google.tokens.rotate_all()
        log.info("SECRET_KEY rotation: %d stored Google token(s) re-encrypted with the new key", done)
        if unreadable:
            log.warning("SECRET_KEY rotation: %d stored Google token(s) open with no configured key", unreadable)
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        states = OAuthStateStore(db, token_cipher(settings), clock=clock)
        purged = await states.purge() + await LinkRequestStore(db, clock=clock).purge()
        if purged:
            log.info("deleted %d expired sign-in link(s)", purged)


class IdentityAndGoogle:
    """Sign-in and Google as a feature unit: /signout, /account, /connect, /disconnect, /calendar, the name and
    Drive folder settings, the calendar tools (changes in shared threads wait for a yes) with their
    before-model steps, and the DM that tells an account how its web sign-in went."""

    name = "identity"

    def __init__(
        self,
        ids: IdentityServices,
        notices: IdentityNotices,
        availability: GoogleAvailability | None,
        *,
        default_folder: str,
        settings_link: SettingsLink | None = None,
    ) -> None:
        """``availability`` is None without Google; ``default_folder`` is the Drive folder until a person
        chooses one; ``settings_link`` makes /account answer with a link to the web app's settings."""
        self.ids = ids
        self.notices = notices
        self.availability = availability
        self.default_folder = default_folder
        self.settings_link = settings_link

    def install(self, context: FeatureContext) -> FeatureParts:
        google, availability, notices = self.ids.google, self.availability, self.notices
        profiles = Profiles(context.db, changed=context.people.changed)
        drive = google.drive if google is not None else None
        settings = [
            name_field(profiles),
            drive_folder_field(profiles, drive=drive, availability=availability, default_folder=self.default_folder),
        ]
        subscriptions = [Subscription(SignInFinished, lambda event: notices.signed_in(event.result))]
        handlers = IdentityCommands(
            chat=context.chat,
            linker=self.ids.linker,
            google=GoogleParts(google.signin, google.connections, google.drive, google.calendar, availability)
            if google is not None and availability is not None
            else None,
            settings_link=self.settings_link,
        )
        commands = identity_commands(handlers)
        if google is None or availability is None:
            return FeatureParts(commands=commands, settings=settings, subscriptions=subscriptions)
        google_tools = calendar_tools(google.calendar, availability, context.events)
        subscriptions += [
            # A connection changed (a sign-in, Google connected here, or refused while working): look it up
            # again at the person's next turn; a refused one also gets them a link to connect again.
            Subscription(SignInFinished, lambda event: _forget(availability, event.result.user_id)),
            Subscription(GoogleBroken, lambda event: availability.forget(event.user_id)),
            Subscription(GoogleBroken, lambda event: notices.reconnect_needed(event.user_id)),
        ]
        pending = PendingActions(context.db, clock=context.clock)  # changes asked for in shared threads wait for a yes
        return FeatureParts(
            before_model=[availability, ConfirmationStep(pending, ToolRegistry.of(google_tools), clock=context.clock)],
            tools=confirm_first(google_tools, pending),
            commands=commands,
            settings=settings,
            subscriptions=subscriptions,
        )


def _forget(availability: GoogleAvailability, user_id: int | None) -> None:
    if user_id is not None:
        availability.forget(user_id)
