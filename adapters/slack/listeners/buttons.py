"""Presses on the assistant's buttons (``block_actions``): acknowledged at once, worked on afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from adapters.slack.buttons import ButtonPresses
from core.buttons import PREFIX


def register(app: AsyncApp, presses: ButtonPresses, spawn: Callable[[Coroutine[Any, Any, Any]], object]) -> None:
    """One listener for every button whose action id is ours."""

    @app.action(re.compile("^" + re.escape(PREFIX)))
    async def on_button(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        spawn(presses.run(body))
