"""Ask Slack once whether it accepts the tokens, and say which one it refuses.

Used at start (so a refused token stops the Slack service in one sentence
instead of Socket Mode retrying it forever) and by ``doctor``.
"""

from __future__ import annotations

from collections.abc import Awaitable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.errors import PlatformStartError, PlatformUnreachable

# Slack's answers that mean "this token is not valid", as opposed to a passing trouble.
REFUSALS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)
WHERE = {
    "SLACK_BOT_TOKEN": "OAuth & Permissions → Bot User OAuth Token, xoxb-…",
    "SLACK_APP_TOKEN": "Basic Information → App-Level Tokens, xapp-… with connections:write",
}


async def check_bot_token(client: AsyncWebClient) -> dict[str, str]:
    """``auth.test`` with the client's bot token; returns the team and bot ids.

    Raises :class:`PlatformStartError` naming SLACK_BOT_TOKEN when Slack refuses
    it, or saying Slack cannot be reached.
    """
    response = await _call(client, "auth.test", "SLACK_BOT_TOKEN", client.auth_test())
    return {key: str(response.get(key, "")) for key in ("team_id", "team", "user_id", "bot_id")}


async def open_socket_url(client: AsyncWebClient, app_token: str) -> str:
    """``apps.connections.open`` with the app token: the Socket Mode URL to connect to now.

    Raises :class:`PlatformStartError` naming SLACK_APP_TOKEN when Slack refuses it.
    """
    response = await _call(
        client, "apps.connections.open", "SLACK_APP_TOKEN", client.apps_connections_open(app_token=app_token)
    )
    return str(response["url"])


async def _call(
    client: AsyncWebClient, method: str, variable: str, call: Awaitable[AsyncSlackResponse]
) -> dict[str, object]:
    try:
        response = await call
    except SlackApiError as exc:
        error = str(exc.response.get("error") or exc.response.status_code)
        if error in REFUSALS:
            raise PlatformStartError(
                f"Slack refused the token in {variable} ({error}): copy it again from your app's page at "
                f"api.slack.com/apps ({WHERE[variable]})."
            ) from None
        raise PlatformStartError(f"Slack answered {error!r} to {method} with {variable}.") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlatformUnreachable(
            f"Slack cannot be reached at {client.base_url} ({reason}); check the network or SLACK_API_URL."
        ) from None
    return dict(response.data) if isinstance(response.data, dict) else {}
