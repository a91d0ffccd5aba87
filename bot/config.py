"""Settings, read from the environment and ``.env`` (see ``.env.example`` for every variable)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.db.url import normalize_database_url
from core.model_names import ModelNames
from core.timefmt import is_valid_zone

# Where an empty value is a decision, not "the default": the allowlists (nobody that way), and the Slack signing
# secret, whose own check refuses it empty in HTTP mode (anyone could sign requests) and drops it in Socket Mode.
EMPTY_IS_A_VALUE = frozenset({"allowed_accounts", "allowed_emails", "slack_signing_secret"})


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "local"


class Settings(BaseSettings):
    """Every setting of the assistant. Field names are the environment variable names, upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # -- the model endpoint ---------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_timeout: float = 60.0
    openai_max_retries: int = 2
    chat_model: str = "gpt-4o-mini"
    vision_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    image_model: str = "gpt-image-1"
    speech_model: str = "gpt-4o-mini-tts"
    transcription_model: str = "gpt-4o-mini-transcribe"
    summary_model: str = ""  # writes rolling summaries; empty: the chat model

    # -- storage ------------------------------------------------------------------
    data_dir: Path = Path("data")
    database_url: str = ""
    auto_migrate: bool = True

    # -- the assistant ----------------------------------------------------------------
    assistant_name: str = "CaptainsLog"
    default_timezone: str = "UTC"
    context_token_budget: int = Field(default=16_000, ge=1_000)
    checkpoint_interval: float = Field(default=1.0, gt=0)
    # Limits per person (0 turns one off): messages a minute and a day, generated images a day,
    # and how many messages may wait in line in one conversation.
    messages_per_minute: int = Field(default=12, ge=0)
    messages_per_day: int = Field(default=300, ge=0)
    images_per_day: int = Field(default=20, ge=0)
    waiting_per_conversation: int = Field(default=5, ge=0)
    # Tool calls the model may make per step and per answer (past them a call is refused, not run), and
    # the paid tools' daily allowances: web searches and Calendar changes (create, move, cancel).
    tool_calls_per_round: int = Field(default=8, ge=0)
    tool_calls_per_turn: int = Field(default=24, ge=0)
    web_searches_per_day: int = Field(default=50, ge=0)
    calendar_changes_per_day: int = Field(default=50, ge=0)
    allowed_accounts: Annotated[list[str], NoDecode] = ["terminal:*"]
    log_level: str = "INFO"

    # -- long-term memory -------------------------------------------------------------
    embedding_dimensions: int = Field(default=0, ge=0)  # 0: the embedding model's own size
    recall_token_budget: int = Field(default=300, ge=0)
    recall_timeout: float = Field(default=0.5, gt=0)
    # How long recall may wait for the new message's embedding before the first word (0: never; it then
    # recalls from the words of the message and the previous message's meaning).
    recall_wait: float = Field(default=0.0, ge=0)
    memory_similarity_floor: float = Field(default=0.30, ge=-1.0, le=1.0)
    # A question finds something (else "nothing found") when a row has a cosine of MEMORY_SIMILARITY_FLOOR or
    # holds this share of the question's word weight (names and rare words weigh most); core/memory/fusion.py.
    memory_text_match: float = Field(default=0.35, ge=0.0, le=1.0)
    memory_search_limit: int = Field(default=8, ge=1, le=50)
    memory_extraction: bool = True
    # Memory (MiB) all users' vector indexes may hold together; past it the least recently used are dropped.
    memory_index_budget_mb: int = Field(default=2048, ge=16)

    # -- terminal chat ----------------------------------------------------------------
    terminal_user: str = Field(default_factory=_local_user)

    # -- chat platforms ---------------------------------------------------------------
    # A platform that accepts the connection but never answers is given up after this many seconds.
    platform_start_timeout: float = Field(default=30.0, gt=0)

    # -- Discord --------------------------------------------------------------------
    discord_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_dev_guild: str | None = None

    # -- Slack ----------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_mode: Literal["socket", "http"] = "socket"
    slack_api_url: str = "https://slack.com/api/"
    slack_native_streaming: bool = False
    slack_assistant_status: bool = False

    # -- the bot's own web server (Slack HTTP mode, OAuth callbacks) --------------------
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_url: str = ""  # the address users' browsers reach (tunnel or reverse proxy); links are built from it

    # -- sign-in and Google (core/identity, core/google) -----------------------------------
    secret_key: SecretStr | None = None  # encrypts Google tokens and PKCE verifiers at rest
    secret_key_old: Annotated[list[str], NoDecode] = []  # previous keys, still accepted for decryption
    allowed_emails: Annotated[list[str], NoDecode] = []  # exact addresses and *@example.org patterns
    google_client_id: str = ""
    google_client_secret: SecretStr | None = None
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    google_api_url: str = "https://www.googleapis.com/"
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    google_timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, values: object) -> object:
        # `cp .env.example .env` leaves many lines empty (TERMINAL_USER=): that means the default. Except for
        # the allowlists, where an empty value is a decision: ALLOWED_ACCOUNTS= lets no account in by itself.
        if isinstance(values, dict):
            return {
                key: value
                for key, value in values.items()
                if not (isinstance(value, str) and not value.strip() and key.lower() not in EMPTY_IS_A_VALUE)
            }
        return values

    @field_validator("secret_key_old", "allowed_emails", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        return value

    @property
    def public_base_url(self) -> str:
        """PUBLIC_URL without a trailing slash, or the local web server's address when unset."""
        return (self.public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def google_configured(self) -> bool:
        return bool(
            self.google_client_id and self.google_client_secret and self.google_client_secret.get_secret_value()
        )

    # -- agents and media (core/agents, core/media) ---------------------------------------
    agent_timeout: float = Field(default=60.0, gt=0)
    # Images larger than this are refused from their header, never decoded (a decompression bomb).
    max_image_megapixels: float = Field(default=40.0, gt=0, le=500)
    wikipedia_api_url: str = "https://{lang}.wikipedia.org"
    wikipedia_language: str = "en"
    wikipedia_user_agent: str = "CaptainsLog/0.1 (self-hosted personal assistant bot; python-aiohttp)"
    search_base_url: str = ""
    search_api_key: SecretStr | None = None
    search_model: str = "sonar"
    speech_voice: str = "alloy"

    # -- the daily log (core/daily) --------------------------------------------------------
    daily_summary_time: str = "22:30"  # local end of day for users who set none; "off" turns it off
    daily_catch_up_days: int = Field(default=3, ge=0, le=30)

    # -- reminders (core/reminders) ----------------------------------------------------------
    reminders_per_user: int = Field(default=100, ge=0)  # open (active or paused) reminders one person may have

    @field_validator("daily_summary_time")
    @classmethod
    def _daily_time(cls, value: str) -> str:
        from core.daily.prefs import parse_daily_time

        at = parse_daily_time(value)  # ValueError names the bad value
        return at.strftime("%H:%M") if at is not None else "off"

    @field_validator("allowed_accounts", mode="before")
    @classmethod
    def _split_accounts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_valid_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        # postgres://, postgresql:// and sqlite:/// switch to the async drivers; anything else is refused.
        return normalize_database_url(value) if value.strip() else ""

    @model_validator(mode="after")
    def _slack_signing_secret(self) -> Settings:
        # An empty secret would let anyone sign a request; in Socket Mode it is unused, as if unset.
        secret = self.slack_signing_secret
        if secret is not None and not secret.get_secret_value().strip():
            if self.slack_mode == "http":
                raise ValueError(
                    "SLACK_SIGNING_SECRET is empty: Slack HTTP mode needs the app's Signing Secret "
                    "(api.slack.com/apps → your app → Basic Information → App Credentials)"
                )
            self.slack_signing_secret = None
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'captainslog.db').as_posix()}"
        return self

    @property
    def models(self) -> ModelNames:
        return ModelNames(
            chat=self.chat_model,
            vision=self.vision_model,
            embedding=self.embedding_model,
            image=self.image_model,
            speech=self.speech_model,
            transcription=self.transcription_model,
        )

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None and bool(self.discord_token.get_secret_value())

    @property
    def slack_configured(self) -> bool:
        if self.slack_bot_token is None or not self.slack_bot_token.get_secret_value():
            return False
        if self.slack_mode == "http":
            return self.slack_signing_secret is not None
        return self.slack_app_token is not None

    @property
    def platforms(self) -> list[str]:
        """The chat platforms that have their credentials set."""
        return [name for name, ok in (("discord", self.discord_configured), ("slack", self.slack_configured)) if ok]

    @property
    def search_configured(self) -> bool:
        """Whether the web search tool has an endpoint and a model (it is not offered otherwise)."""
        return bool(self.search_base_url.strip() and self.search_model.strip())


PLATFORM_VARIABLES = {
    "discord": "DISCORD_TOKEN",
    "slack": "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode), or SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_MODE=http",
}
