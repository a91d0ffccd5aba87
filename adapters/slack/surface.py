"""The shared renderer's view of one Slack place: a DM channel or a thread.

Posts with chat.postMessage (into the thread when there is one), edits with
chat.update, uploads with the external upload flow.  Slack errors become the
renderer's: a 429 is :class:`RateLimited` with Slack's Retry-After, a message
that no longer exists is a ``gone`` :class:`DeliveryError`.

A post that failed on the network may still have been made: Slack has no
idempotency key for chat.postMessage.  So each post carries an id in its
message metadata and is sent once (without slack_sdk's connection-error
retry); when the answer is lost, the surface looks for its own message in the
conversation before anyone posts again, and adopts it when it is there.
A scheduled post's part uses its stored idempotency key as that id
(``post_keyed``), so a retry in another process finds it the same way
(``own_posts_since``); its file is found by its name.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.budget import RateBudget
from adapters.part_delivery import OwnPost
from adapters.rate_window import SlidingWindow
from adapters.slack.blocks import blocks_of
from adapters.slack.mrkdwn import escape, to_mrkdwn
from adapters.slack.workspace import Workspace
from adapters.surface import DeliveryError, RateLimited, SurfaceLimits
from core.buttons import Button
from core.types import OutgoingFile

log = logging.getLogger(__name__)
T = TypeVar("T")

# chat.update refuses more than 4,000 characters (chat.postMessage takes 40,000).
SLACK_UPDATE_LIMIT = 4000
# What the renderer may add after the converted text: a closing fence, the
# streaming marker and a status line, or a note.  format_status and
# format_note are capped so that this always holds.
_STATUS_MAX = 200
_NOTE_MAX = 300
_SUFFIX_ROOM = 16 + 3 + max(_STATUS_MAX, _NOTE_MAX)
TEXT_MAX = SLACK_UPDATE_LIMIT - _SUFFIX_ROOM
# chat.update is counted for the whole workspace, chat.postMessage per channel: the first
# text is posted as the message itself when the model starts within a second.
# A final text the crowded chat.update budget cannot show within a second is posted anew (a post is
# counted per channel) and the streaming message deleted (chat.delete has a budget of its own).
LIMITS = SurfaceLimits(max_chars=3800, first_text_wait=1.0, repost_final=1.0)

_GONE = frozenset({"message_not_found", "channel_not_found", "thread_not_found"})
_STREAMING = frozenset({"cant_update_message", "message_is_streaming"})
_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
# The metadata event type that marks the bot's own posts (with a unique id per post).
POST_EVENT = "captainslog_post"
# How many of the newest messages are searched for a post whose answer was lost.
LOOKBACK = 20
# Seconds before an earlier try that its posts are looked for (our clock against Slack's), and how many.
READ_BACK_SKEW = 300.0
READ_BACK_LIMIT = 200
READ_BACK_PAGES = 5


def sent_once(client: AsyncWebClient) -> AsyncWebClient:
    """The same client without slack_sdk's retry after a dropped connection (which would post twice)."""
    once = copy.copy(client)
    once.retry_handlers = [h for h in client.retry_handlers if not isinstance(h, AsyncConnectionErrorRetryHandler)]
    return once


def retry_after(error: SlackApiError) -> float:
    """Seconds Slack asked us to wait, from the Retry-After header of a 429."""
    headers = getattr(error.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(int(value)))
            except (TypeError, ValueError):
                break
    return 1.0


def delivery_error(error: Exception) -> Exception:
    """A Slack client error as the renderer's exception."""
    if isinstance(error, SlackApiError):
        if error.response.status_code == 429:
            return RateLimited(retry_after(error))
        code = slack_error_code(error)
        # Slack refuses with ok:false; only its own failures are worth repeating the call for.
        permanent = error.response.status_code < 500 and bool(code) and code not in _TRANSIENT
        return DeliveryError(f"Slack refused the call: {code or error}", gone=code in _GONE, retryable=not permanent)
    return DeliveryError(f"Slack could not be reached: {error}", retryable=True)


async def slack_call(call: Awaitable[T]) -> T:
    """A Slack call whose refusal is the renderer's :class:`RateLimited` or :class:`DeliveryError`."""
    try:
        return await call
    except SlackApiError as exc:
        raise delivery_error(exc) from exc


def slack_error_code(error: SlackApiError) -> str:
    """The ``error`` field of Slack's answer (``message_not_found``, ``ratelimited``...)."""
    return str(error.response.get("error", "")) if isinstance(error.response.data, dict) else ""


class SlackSurface:
    """One place an answer is shown: ``channel`` (a DM or a channel) and, for a thread, ``thread_ts``."""

    limits = LIMITS

    def __init__(self, *, client: AsyncWebClient, workspace: Workspace, channel: str, thread_ts: str = "") -> None:
        self.client = client
        self.workspace = workspace
        self.channel = channel
        self.thread_ts = thread_ts
        self._once = sent_once(client)

    @property
    def budget(self) -> RateBudget:
        return self.workspace.budget

    def windows(self, action: str) -> Sequence[SlidingWindow]:
        """Which of the workspace's windows a call counts against."""
        if action == "post":
            return (self.workspace.post_window(self.channel),)
        if action == "edit":
            return (self.workspace.update,)
        if action == "delete":
            return (self.workspace.delete,)
        if action == "upload":
            return (self.workspace.upload,)
        return ()  # "typing": Slack has no typing indicator for apps; see answers.AssistantStatus

    def routine_interval(self) -> float:
        return self.workspace.routine_interval()

    # -- markup ------------------------------------------------------------------------

    def format_text(self, markdown: str) -> str:
        # The renderer's splitter measures this very conversion, so pieces arrive sized to fit.
        return to_mrkdwn(markdown)

    def format_status(self, status: str) -> str:
        return _italic(status, _STATUS_MAX)

    def format_note(self, note: str) -> str:
        return _italic(note, _NOTE_MAX)

    # -- calls ---------------------------------------------------------------------------

    async def post(self, text: str) -> str:
        """Post a message here; returns its ts (also when the answer was lost but the post was made)."""
        return await self.post_keyed(text, uuid.uuid4().hex)

    async def post_keyed(self, text: str, post_id: str, buttons: Sequence[Button] = ()) -> str:
        """Post a message carrying `post_id` in its metadata (and `buttons` under it); returns its ts."""
        try:
            response = await self._once.chat_postMessage(
                channel=self.channel,
                text=text,
                blocks=blocks_of(text, buttons) if buttons else None,
                thread_ts=self.thread_ts or None,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": POST_EVENT, "event_payload": {"post": post_id}},
            )
        except SlackClientError as exc:
            raise delivery_error(exc) from exc
        except NETWORK_ERRORS as exc:
            made = await self.find_post(post_id)
            if made is not None:
                log.info("a post to %s was made although its answer was lost; keeping it", self.channel)
                return made
            raise delivery_error(exc) from exc
        return str(response["ts"])

    async def find_post(self, post_id: str) -> str | None:
        """The ts of our post with this id among the newest messages here, if Slack has it."""
        try:
            if self.thread_ts:
                response = await self.client.conversations_replies(
                    channel=self.channel, ts=self.thread_ts, limit=200, include_all_metadata=True
                )
                messages = list(response.get("messages") or [])[-LOOKBACK:]
            else:
                response = await self.client.conversations_history(
                    channel=self.channel, limit=LOOKBACK, include_all_metadata=True
                )
                messages = list(response.get("messages") or [])
        except (SlackClientError, *NETWORK_ERRORS) as exc:
            log.warning("could not check %s for a post whose answer was lost: %s", self.channel, exc)
            return None
        for message in messages:
            metadata: Any = message.get("metadata") or {}
            if (
                metadata.get("event_type") == POST_EVENT
                and (metadata.get("event_payload") or {}).get("post") == post_id
            ):
                return str(message["ts"])
        return None

    async def upload_keyed(self, file: OutgoingFile, key: str) -> str:
        """Upload the file (Slack's upload flow takes no metadata: a retry finds it by its name)."""
        await self.upload(file)
        return ""

    async def own_posts_since(self, since: datetime) -> list[OwnPost] | None:
        """The bot's messages here from a little before `since` on, with the id each post carries."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            for _page in range(READ_BACK_PAGES):  # newest first: an early post may be pages back
                response = await self.client.conversations_history(
                    channel=self.channel,
                    oldest=f"{since.timestamp() - READ_BACK_SKEW:.6f}",
                    limit=READ_BACK_LIMIT,
                    include_all_metadata=True,
                    cursor=cursor,
                )
                messages.extend(response.get("messages") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not response.get("has_more") or cursor is None:
                    break
        except (SlackClientError, *NETWORK_ERRORS) as exc:
            log.warning("could not read back the bot's posts in %s: %s", self.channel, exc)
            return None
        found: list[OwnPost] = []
        for message in messages:
            if not message.get("bot_id"):
                continue
            metadata: Any = message.get("metadata") or {}
            ours = metadata.get("event_type") == POST_EVENT
            key = (metadata.get("event_payload") or {}).get("post") if ours else None
            names = tuple(str(f.get("name") or "") for f in message.get("files") or [])
            found.append(OwnPost(str(message.get("ts") or ""), str(message.get("text") or ""), names, key))
        return found

    async def edit(self, message_id: str, text: str) -> None:
        """Replace the text of one of our messages."""
        try:
            await self.client.chat_update(channel=self.channel, ts=message_id, text=text)
        except SlackApiError as exc:
            if slack_error_code(exc) in _STREAMING and await self._stop_stream(message_id):
                # A natively streamed message left open (a restart cut it): close it, then edit.
                try:
                    await self.client.chat_update(channel=self.channel, ts=message_id, text=text)
                    return
                except (SlackClientError, aiohttp.ClientError, TimeoutError) as again:
                    raise delivery_error(again) from again
            raise delivery_error(exc) from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc

    async def show_buttons(self, message_id: str, text: str, buttons: Sequence[Button]) -> None:
        """Show `buttons` under one of our messages (its `text` then goes into the blocks too)."""
        try:
            await self.client.chat_update(
                channel=self.channel, ts=message_id, text=text, blocks=blocks_of(text, buttons)
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc

    async def drop_buttons(self, message_id: str, text: str) -> None:
        """Show only `text` in one of our messages: its blocks (the buttons) go (a press was answered)."""
        try:
            await self.client.chat_update(channel=self.channel, ts=message_id, text=text, blocks=[])
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc

    async def delete(self, message_id: str) -> None:
        """Delete one of our messages (one left showing no answer text)."""
        try:
            await self.client.chat_delete(channel=self.channel, ts=message_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc

    async def upload(self, file: OutgoingFile, *, comment: str | None = None) -> None:
        """Share a file here with the external upload flow (files.getUploadURLExternal + completeUploadExternal),
        with ``comment`` as its message when given."""
        title = (file.description or file.filename)[:250]
        try:
            await self.client.files_upload_v2(
                channel=self.channel,
                thread_ts=self.thread_ts or None,
                file=file.data,
                filename=file.filename,
                title=title,
                alt_txt=file.description[:1000] or None,
                initial_comment=comment,
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc

    async def typing(self) -> None:
        """Slack shows no typing indicator for apps; the placeholder says we are on it."""

    async def _stop_stream(self, ts: str) -> bool:
        try:
            await self.client.chat_stopStream(channel=self.channel, ts=ts)
            return True
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not close the open stream %s in %s: %s", ts, self.channel, exc)
            return False


def _italic(text: str, limit: int) -> str:
    """``text`` in italics, line by line, escaped, at most ``limit`` characters."""
    out: list[str] = []
    used = 0
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        room = limit - used - (1 if out else 0)
        piece = f"_{escape(line)}_"
        if len(piece) > room:
            while line and len(f"_{escape(line)}…_") > room:
                line = line[: max(0, len(line) - max(1, len(line) // 8))].rstrip()
            if line:
                out.append(f"_{escape(line)}…_")
            break
        used += len(piece) + (1 if out else 0)
        out.append(piece)
    return "\n".join(out)
