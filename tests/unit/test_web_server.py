"""The bot's web server as a runtime service: real uvicorn on a free port, inside the test's event loop."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest

from bot.web import WebAddressUnavailable, WebServer, create_app


async def test_starts_on_a_free_port_serves_and_stops() -> None:
    server = WebServer(create_app(signin=None), host="127.0.0.1", port=0)
    await server.start()
    assert server.port != 0
    async with httpx.AsyncClient(timeout=5) as client:
        health = await client.get(server.url + "/healthz")
        signin = await client.get(server.url + "/signin/anything")
    assert (health.status_code, health.text) == (200, "ok")
    assert signin.status_code == 404 and "no Google sign-in configured" in signin.text
    await server.stop()
    await server.stop()  # stopping twice is harmless


async def test_a_port_in_use_fails_at_start_naming_the_setting_to_change() -> None:
    first = WebServer(create_app(signin=None), host="127.0.0.1", port=0)
    await first.start()
    try:
        second = WebServer(create_app(signin=None), host="127.0.0.1", port=first.port)
        with pytest.raises(WebAddressUnavailable, match="already in use.*set WEB_PORT"):
            await second.start()
    finally:
        await first.stop()


def test_the_bot_itself_depends_on_a_websocket_library_for_uvicorn() -> None:
    """uvicorn serves the web chat's WebSocket only with websockets or wsproto installed ("No supported
    WebSocket library detected"). The tests had wsproto only through selenium (the test extra), so an
    install of the bot alone answered every chat socket with a 404."""
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~ ;]", spec, maxsplit=1)[0].strip().lower() for spec in project["dependencies"]}
    assert names & {"websockets", "wsproto", "uvicorn[standard]"}, sorted(names)
