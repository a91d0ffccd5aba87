"""Slash commands, defined once for every platform.

A platform adapter registers each :class:`Command` in its own way (Discord
application commands, Slack slash commands, terminal lines) and calls
:meth:`CommandSet.run`.  Adding a command is a few lines here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.chat import ChatService
from core.chat.settings_fields import timezone_registry
from core.chat.user_ops import NOT_THE_OWNER
from core.llm import ModelError, OpenAIModel
from core.settings.chat import ChatSettings
from core.settings.registry import SettingsRegistry
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CommandOption:
    name: str
    description: str
    required: bool = False


Progress = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """Who ran a command, where, with which option values.

    ``answers_here`` is set by a caller that shows the whole reply, files included, to the caller
    alone where they typed it (the terminal): a command then replies with its files instead of
    posting them to the caller's DM, and says so. ``progress`` shows a short line ("writing the
    summary…") while a slow command works; without it a command posts such lines to the DM.
    """

    identity: PlatformIdentity
    place: ConversationRef
    options: dict[str, str] = field(default_factory=dict)
    answers_here: bool = False
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class CommandReply:
    """What to show: text, and files to upload. ``private`` replies only the caller should see."""

    text: str
    files: tuple[OutgoingFile, ...] = ()
    private: bool = False


CommandHandler = Callable[[CommandRequest], Awaitable[CommandReply]]


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command. ``slow`` ones are acknowledged first and answered when done."""

    name: str
    description: str
    handler: CommandHandler
    options: tuple[CommandOption, ...] = ()
    slow: bool = False
    usage: str = ""


def _what_is_missing(command: Command, missing: Sequence[CommandOption]) -> str:
    """ "/image needs what the image should show, for example: /image a lighthouse at dawn", not "needs prompt:"."""
    wanted = " and ".join(_lower_first(o.description or o.name) for o in missing)
    example = command.usage or f"/{command.name} " + " ".join(f"<{o.name}>" for o in command.options)
    return f"/{command.name} needs {wanted}, for example: {example}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def options_from_line(command: Command, text: str) -> dict[str, str]:
    """One typed line (the terminal; Slack hands over the same) spread over the command's options.

    A single option takes the whole text (``/image a cat on a mat``), written
    bare or named: ``timezone:Europe/Paris``, ``timezone=Europe/Paris`` or
    ``timezone Europe/Paris`` (the last only when one word follows, so a prompt
    that happens to start with the option's name stays whole).  With several
    options, ``name:value`` pairs are read and any leftover text goes to the first.
    """
    text = text.strip()
    options: Sequence[CommandOption] = command.options
    if not options or not text:
        return {}
    if len(options) == 1:
        name = options[0].name
        named = re.match(rf"^{re.escape(name)}\s*[:=]\s*(.*)$", text, re.IGNORECASE | re.DOTALL)
        if named:
            return {name: named.group(1).strip()}
        spaced = re.match(rf"^{re.escape(name)}\s+(\S+)$", text, re.IGNORECASE)
        return {name: spaced.group(1) if spaced else text}
    names = "|".join(re.escape(o.name) for o in options)
    found: dict[str, str] = {}
    pair = re.compile(rf"(?:^|\s)({names})\s*[:=]\s*(\S+)", re.IGNORECASE)
    for match in pair.finditer(text):
        found[match.group(1).lower()] = match.group(2)
    rest = pair.sub(" ", text).strip()
    if rest and options[0].name not in found:
        # "/settings timezone Europe/Lisbon": the first option written out, then one word, is that option.
        spaced = re.match(rf"^{re.escape(options[0].name)}\s+(\S+)$", rest, re.IGNORECASE)
        found[options[0].name] = spaced.group(1) if spaced else rest
    return found


class CommandSet:
    """The commands every platform offers.

    ``/settings`` is the chat view of ``settings`` (the registry features add their fields to); without
    one, a registry of the time zone alone.
    """

    def __init__(self, chat: ChatService, model: OpenAIModel, settings: SettingsRegistry | None = None) -> None:
        self.chat = chat
        self.model = model
        self.commands: dict[str, Command] = {}
        if settings is None:
            settings = timezone_registry(chat)
        self.settings = ChatSettings(settings)
        for command in (
            Command("new", "Start a fresh conversation here", self._new),
            Command("forget", "Drop the last question and answer from what I remember here", self._forget),
            Command(
                "image",
                "Make an image from a description",
                self._image,
                options=(CommandOption("prompt", "What the image should show", required=True),),
                slow=True,
                usage="/image a lighthouse at dawn, watercolour",
            ),
            self._settings_command(),
            Command("help", "What I can do", self._help),
        ):
            self.add(command)
        settings.on_added(lambda: self.add(self._settings_command()))

    def add(self, command: Command) -> None:
        self.commands[command.name] = command

    async def claim(self, place: ConversationRef, event_id: str, at: datetime | None = None) -> bool:
        """Whether this process runs the command invocation ``event_id`` (False: another process sharing
        the database received it too and runs it); ask before acknowledging it on the platform."""
        return await self.chat.claim(place, event_id, at or self.chat.clock())

    async def run(self, name: str, request: CommandRequest) -> CommandReply:
        """Run a command by name; every failure becomes a reply, never an exception."""
        command = self.commands.get(name)
        if command is None:
            return CommandReply(f"I don't know /{name}. Try /help.", private=True)
        admission = await self.chat.admit(request.identity)
        if not admission.allowed:
            log.info("refused /%s from %s: not on the allowlist", name, request.identity.key)
            return CommandReply(admission.refusal, private=True)
        missing = [o for o in command.options if o.required and not request.options.get(o.name, "").strip()]
        if missing:
            return CommandReply(_what_is_missing(command, missing), private=True)
        try:
            return await command.handler(request)
        except ModelError as exc:
            log.warning("/%s failed: %s", name, exc)
            return CommandReply(exc.user_message, private=True)
        except Exception:  # noqa: BLE001 - the user gets a sentence, the log the traceback
            log.exception("/%s failed", name)
            return CommandReply(f"Sorry, /{name} failed. The error is in the assistant's log.", private=True)

    # -- the built-in commands -----------------------------------------------------------

    async def _new(self, request: CommandRequest) -> CommandReply:
        if not await self.chat.may_manage(request.place, request.identity):
            return CommandReply(NOT_THE_OWNER, private=True)
        await self.chat.new_conversation(request.place)
        return CommandReply("Started a fresh conversation. Earlier messages stay saved but I won't use them here.")

    async def _forget(self, request: CommandRequest) -> CommandReply:
        if not await self.chat.may_manage(request.place, request.identity):
            return CommandReply(NOT_THE_OWNER, private=True)
        if await self.chat.forget_last_exchange(request.place):
            return CommandReply("Done: I'll leave the last question and answer out from now on.")
        return CommandReply("There is nothing to forget here yet.", private=True)

    async def _image(self, request: CommandRequest) -> CommandReply:
        prompt = request.options["prompt"].strip()
        admission = await self.chat.admit(request.identity)
        over = await self.chat.limits.take_image(admission.user.id) if admission.user else None
        if over is not None:
            return CommandReply(over, private=True)
        data = await self.model.generate_image(prompt)
        return CommandReply(
            f"Here is “{prompt}”.", files=(OutgoingFile("image.png", "image/png", data, description=prompt),)
        )

    def _settings_command(self) -> Command:
        """``/settings`` with one option per setting (rebuilt when a feature adds one)."""
        options = self.settings.options()
        return Command(
            "settings",
            "See or change your settings (alone: every current value)",
            self._settings,
            options=tuple(CommandOption(name, help) for name, help in options),
            usage="/settings timezone:Europe/Paris, /settings daily-time 22:30",
        )

    async def _settings(self, request: CommandRequest) -> CommandReply:
        admission = await self.chat.admit(request.identity)
        if admission.user is None:
            return CommandReply(admission.refusal or "Sign in first.", private=True)
        text = await self.settings.answer(admission.user.id, request.identity.platform, request.options)
        return CommandReply(text, private=True)

    async def _help(self, _request: CommandRequest) -> CommandReply:
        lines = ["Write to me in this DM (or mention me in a channel to start a thread). Commands:"]
        lines += [f"/{c.name} — {c.description}" for c in self.commands.values()]
        return CommandReply("\n".join(lines), private=True)
