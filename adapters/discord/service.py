"""The Discord adapter: a discord.py client wired to the core and the shared renderer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from functools import partial

import discord
from discord import app_commands

from adapters.delivery import close_interrupted
from adapters.discord.buttons import on_press
from adapters.discord.endpoints import point_discord_at, start_failure_sentence
from adapters.discord.limits import DiscordBudget
from adapters.discord.logs import fold_reconnect_tracebacks
from adapters.discord.mapping import (
    addressed,
    identity_of,
    offered_files,
    place_of,
    places_of_message,
    read_attachments,
    small_print,
    strip_mention,
)
from adapters.discord.messenger import DiscordMessenger
from adapters.discord.refusal import refuse_privately
from adapters.discord.slash import register_commands
from adapters.discord.surface import NO_MENTIONS, DiscordSurface
from adapters.errors import PlatformStartError
from adapters.inbound import Arrival, InboundPipeline
from adapters.render import StreamRenderer
from adapters.strangers import StrangerGate
from core.attachments import AttachmentPolicy
from core.chat import ChatService
from core.clock import Sleep
from core.commands import CommandSet
from core.messenger import Outbox
from core.people import Admission
from core.types import Attachment, ConversationRef, IncomingMessage, PlatformIdentity

log = logging.getLogger(__name__)

PLATFORM = "discord"
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    attach_files=True,
    embed_links=True,
)


class DiscordService:
    """Runs the Discord bot: answers DMs and mention threads, slash commands, edits and deletes."""

    name = "discord"

    def __init__(
        self,
        *,
        token: str,
        chat: ChatService,
        commands: CommandSet,
        api_url: str = "https://discord.com/api/v10",
        gateway_url: str = "wss://gateway.discord.gg/",
        dev_guild: str | None = None,
        guild_ready_timeout: float = 0.5,  # discord.py waits this after the last GUILD_CREATE, even with none
        outbox: Outbox | None = None,
        attachments: AttachmentPolicy | None = None,
        gate: StrangerGate,
        sleep: Sleep = asyncio.sleep,
        previews: Callable[[PlatformIdentity], Awaitable[bool]] | None = None,
    ) -> None:
        """``outbox`` gets this platform's messenger once connected (and loses it on stop);
        ``attachments`` decides which files of a message are downloaded (the core's default limits);
        ``gate`` decides access before any work (the process's one gate, refusing a stranger once per 10 minutes);
        ``sleep`` waits seconds of the chat's clock (typing kept alive while the first word is awaited);
        ``previews(author)`` says whether the author turned link previews on (by default answers never show them)."""
        self.previews = previews
        self.sleep = sleep
        self.gate = gate
        self.inbound = InboundPipeline(chat, self.gate)
        self.token = token
        self.outbox = outbox
        self.attachments = attachments or AttachmentPolicy()
        self.chat = chat
        self.commands = commands
        self.dev_guild = dev_guild
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.budget = DiscordBudget()
        intents = discord.Intents.default()
        intents.message_content = True
        intents.dm_messages = True
        intents.guild_messages = True
        self.client = discord.Client(
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=NO_MENTIONS,
            http_trace=self.budget.trace_config(),  # Discord's 429s teach the budget
        )
        self.tree = app_commands.CommandTree(self.client)
        register_commands(self.tree, commands)
        self.ready = asyncio.Event()
        self.waiting_for = ""  # what start() waits for, said by the runtime when it takes long
        self._runner: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self.client.event(self.on_ready)
        self.client.event(self.on_message)
        self.client.event(self.on_raw_message_edit)
        self.client.event(self.on_raw_message_delete)
        self.client.event(self.on_interaction)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, connect to the gateway in the background, and wait until ready.

        A refused token or an unreachable Discord raises :class:`PlatformStartError`
        (one sentence) after every connection opened so far is closed.
        """
        point_discord_at(self.api_url, self.gateway_url)
        fold_reconnect_tracebacks()
        try:
            self.waiting_for = f"Discord to answer the login at {self.api_url} (DISCORD_API_URL)"
            await self.client.login(self.token)
            self.waiting_for = f"Discord's gateway at {self.gateway_url} to say ready (DISCORD_GATEWAY_URL)"
            self._runner = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
            ready = asyncio.create_task(self.ready.wait())
            await asyncio.wait({ready, self._runner}, return_when=asyncio.FIRST_COMPLETED)
            if self._runner.done():
                ready.cancel()
                self._runner.result()  # raises what stopped the connection
                raise PlatformStartError("Discord closed the connection before the bot was ready.")
        except Exception as exc:
            sentence = start_failure_sentence(exc, self.api_url)
            if sentence is None and self._runner is not None and self.client.ws is None:
                # discord.py cannot retry a first gateway connection that failed (it reads the absent socket).
                sentence = (
                    f"Discord's gateway cannot be reached at {self.gateway_url}; "
                    "check the network or DISCORD_GATEWAY_URL."
                )
            await self.client.close()  # its HTTP session, or aiohttp warns of an unclosed connector
            if sentence is None:
                raise
            raise PlatformStartError(sentence) from None

    async def stop(self) -> None:
        if self.outbox is not None:
            self.outbox.unregister(PLATFORM)
        for task in list(self._answers):
            task.cancel()
        if self._answers:
            await asyncio.wait(self._answers, timeout=5)
        await self.client.close()
        if self._runner is not None:
            with suppress(asyncio.CancelledError, Exception):
                await self._runner

    async def on_ready(self) -> None:
        if self.ready.is_set():
            return  # a reconnect
        user = self.client.user
        assert user is not None
        log.info("logged in to Discord as %s (%s)", user, user.id)
        app_id = self.client.application_id or user.id
        log.info(
            "invite the bot with: %s",
            discord.utils.oauth_url(app_id, permissions=INVITE_PERMISSIONS, scopes=("bot", "applications.commands")),
        )
        await self._sync_commands()
        await self._recover()
        if self.outbox is not None:
            self.outbox.register(DiscordMessenger(self.client, self.budget))
        self.ready.set()

    async def _sync_commands(self) -> None:
        try:
            if self.dev_guild:
                guild = discord.Object(id=int(self.dev_guild))
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
            log.info("synced %d slash commands%s", len(synced), f" to guild {self.dev_guild}" if self.dev_guild else "")
        except discord.HTTPException as exc:
            log.error("could not sync slash commands: %s", exc)

    async def _recover(self) -> None:
        """Close off answers that a previous run left half-written."""
        for answer in await self.chat.recover_interrupted(PLATFORM):
            channel_id = int(answer.conversation.channel)
            channel = self.client.get_partial_messageable(channel_id)
            try:
                await close_interrupted(DiscordSurface(channel, channel_id, self.budget), answer)
            except Exception:  # noqa: BLE001 - recovery of one answer must not stop the bot
                log.exception("could not close off interrupted answer %s", answer.message_id)

    # -- events ---------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """A DM, a mention in a server channel (opens a thread) or a message in one of our threads.

        Is it for us, then the inbound pipeline (claim, access, refusal), then any work:
        a stranger's mention opens no thread and downloads nothing.
        """
        me = self.client.user
        assert me is not None
        where = addressed(message, me)
        if where is None or (where.if_ours and not await self.chat.has_conversation(where.place)):
            return
        guild_id = message.guild.id if message.guild else None

        async def author() -> PlatformIdentity:
            return identity_of(message.author, guild_id)

        # Every session of the bot gets the message: one process takes it (answer or refusal).
        arrival = Arrival(where.place, str(message.id), message.created_at)
        admitted = await self.inbound.admit(arrival, author, partial(refuse_privately, message))
        if admitted is None:
            return
        target: discord.abc.Messageable = message.channel
        place = where.place
        if where.opens_thread:
            title = strip_mention(message.content, me.id)[:90] or "Conversation"
            try:
                target = await message.create_thread(name=title)
            except discord.HTTPException as exc:
                log.warning("could not open a thread in %s: %s", message.channel.id, exc)
                return
            place = place_of(target.id, guild_id)  # type: ignore[attr-defined]
        await self._answer(message, admitted.author, place, target, admitted.admission)

    async def _answer(
        self,
        message: discord.Message,
        author: PlatformIdentity,
        place: ConversationRef,
        target: discord.abc.Messageable,
        admission: Admission | None = None,
    ) -> None:
        me = self.client.user
        assert me is not None
        text = strip_mention(message.content, me.id)
        plan = self.attachments.plan(offered_files(message))  # from the metadata: nothing downloaded yet
        upfront = self.attachments.skipped_note(plan.skipped) if plan.skipped else ""
        if upfront:  # what will not be read is said at once, before the answer
            with suppress(discord.HTTPException):
                await target.send(small_print(upfront), allowed_mentions=NO_MENTIONS)
        if not text and not plan.accepted:
            return

        async def fetch() -> tuple[Attachment, ...]:
            # Called by the core once the message has its place in line: order holds from arrival.
            files = await read_attachments(message, self.attachments)
            said = set(upfront.splitlines())
            failed = "\n".join(line for line in files.note.splitlines() if line not in said)
            if failed:  # downloads that failed
                with suppress(discord.HTTPException):
                    await target.send(small_print(failed), allowed_mentions=NO_MENTIONS)
            return files.attachments

        incoming = IncomingMessage(
            conversation=place,
            author=author,
            text=text,
            received_at=message.created_at,
            platform_message_id=str(message.id),
            fetch_attachments=fetch if plan.accepted else None,
            shared_place=message.guild is not None,  # a server thread: others read it
        )
        channel_id = int(place.channel)
        reply_to = message if target is message.channel else None
        wanted = await self.previews(author) if self.previews is not None else False
        surface = DiscordSurface(target, channel_id, self.budget, reply_to=reply_to, previews=wanted)
        task = asyncio.current_task()
        if task is not None:
            self._answers.add(task)
        try:
            renderer = StreamRenderer(
                surface, record_parts=self.chat.record_platform_parts, clock=self.chat.clock, sleep=self.sleep
            )
            await renderer.render(self.chat.turn(incoming, admission=admission))
        finally:
            if task is not None:
                self._answers.discard(task)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A press on one of the bot's buttons (slash commands go through the command tree)."""
        await on_press(interaction, self.commands)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        content = payload.data.get("content")
        author = payload.data.get("author") or {}
        if content is None or author.get("bot"):
            return
        me = self.client.user
        text = strip_mention(content, me.id) if me else content
        for place in places_of_message(payload.channel_id, payload.guild_id, payload.message_id):
            if await self.chat.edit_user_message(place, str(payload.message_id), text):
                log.info("message %s edited by its author; history updated", payload.message_id)
                return

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        cached = payload.cached_message
        if cached is not None and cached.author.bot:
            return  # a bot's message (ours, tidied by a renderer) was never a message to answer
        for place in places_of_message(payload.channel_id, payload.guild_id, payload.message_id):
            if await self.chat.delete_user_message(place, str(payload.message_id)):
                log.info("message %s deleted by its author; history updated", payload.message_id)
                return
