"""Events of the assistant feature that need nothing from us but an acknowledgement.

With the feature on, Slack sends ``assistant_thread_started`` and
``assistant_thread_context_changed``; the user's messages in an assistant
thread arrive as ordinary DM messages.  Listening keeps Bolt from logging each
as an unhandled request.
"""

from __future__ import annotations

from slack_bolt.app.async_app import AsyncApp


def register(app: AsyncApp) -> None:
    for event in ("assistant_thread_started", "assistant_thread_context_changed"):

        @app.event(event)
        async def acknowledge() -> None:
            """Events are acked by Bolt before the listener runs; nothing else to do."""
