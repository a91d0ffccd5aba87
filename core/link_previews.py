"""Link previews on answers: off unless the user turns them on (``/settings previews on``).

A chat platform that unfurls links fetches every URL in a posted answer at once, without a
click; a link planted in an answer (by a web page, a document or another person in a
shared thread) could carry data out in its query string. So answers go out with previews
suppressed (on Discord the message flag SUPPRESS_EMBEDS; Slack's unfurls are off already),
unless the person chose to see them. The choice is stored in the user's settings like
``/settings voice``.
"""

from __future__ import annotations

import re

from core.commands import Command, CommandOption, CommandReply, CommandRequest, setting_hint
from core.db.outage import unavailable
from core.identity.profile import Profiles
from core.people import People
from core.types import PlatformIdentity

PREVIEWS_SETTING = "link_previews"
PREVIEWS_HELP = (
    "Link previews: /settings previews on (links in my answers show a preview, fetched by the platform) "
    "or /settings previews off (the default)."
)
_PREVIEWS = re.compile(r"^\s*previews\s*[:= ]\s*(on|off)\s*$", re.IGNORECASE)


class LinkPreviews:
    """Whether a person wants link previews on the answers they get, and the /settings option to choose."""

    def __init__(self, *, people: People, profiles: Profiles, settings_command: Command | None) -> None:
        self.people = people
        self.profiles = profiles
        self.wrapped_settings = settings_command

    async def wanted(self, identity: PlatformIdentity) -> bool:
        """True when the person behind ``identity`` turned previews on (never for a refused account).

        Asked right after the adapter's gate decided the message, whose fresh decision is used.
        """
        try:
            admission = self.people.known(identity) or await self.people.admit(identity)
        except Exception as exc:
            if not unavailable(exc):
                raise
            return False  # the database is away (a new person's message is held meanwhile): the default
        return admission.user is not None and admission.user.settings.get(PREVIEWS_SETTING) == "on"

    async def settings(self, request: CommandRequest) -> CommandReply:
        """``/settings previews on|off``; any other option goes to the /settings this one wraps."""
        options = {k: v for k, v in request.options.items() if v and v.strip()}
        value = options.pop("previews", "").strip().lower()
        for key, typed in list(options.items()):  # "previews on" typed into another option (one-line platforms)
            match = _PREVIEWS.match(typed)
            if match:
                del options[key]
                value = match.group(1).lower()
        if not value:
            current = await self._current(request)
            if self.wrapped_settings is None:
                return CommandReply(current, private=True)
            reply = await self.wrapped_settings.handler(CommandRequest(request.identity, request.place, options))
            if options:
                return reply
            return CommandReply(f"{reply.text}\n{current}", reply.files, private=True)
        if value not in ("on", "off"):
            return CommandReply(PREVIEWS_HELP, private=True)
        admission = await self.people.admit(request.identity)
        assert admission.user is not None  # CommandSet.run admitted the caller
        await self.profiles.update_settings(admission.user.id, {PREVIEWS_SETTING: value})
        await self.people.changed()
        if value == "on":
            return CommandReply("Links in my answers now show previews (the platform fetches them).", private=True)
        return CommandReply("Links in my answers show no previews again.", private=True)

    async def _current(self, request: CommandRequest) -> str:
        """The previews setting now, and how to change it on the caller's platform."""
        platform = request.identity.platform
        if await self.wanted(request.identity):
            return f"Links in my answers show previews. Turn them off with {setting_hint(platform, 'previews', 'off')}."
        return f"Links in my answers show no previews. Turn them on with {setting_hint(platform, 'previews', 'on')}."


def previews_command(previews: LinkPreviews) -> Command:
    """/settings with a previews option added to the one it replaces."""
    wrapped = previews.wrapped_settings
    previous = wrapped.options if wrapped is not None else ()
    description = wrapped.description if wrapped is not None else "Your settings"
    return Command(
        "settings",
        description.rstrip(")") + ", previews)" if description.endswith(")") else description,
        previews.settings,
        options=(*previous, CommandOption("previews", "Link previews on my answers: on or off")),
        usage="/settings previews on",
    )
