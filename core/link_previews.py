"""Link previews on answers: off unless the user turns them on (``/settings previews on``).

A chat platform that unfurls links fetches every URL in a posted answer at once, without a
click; a link planted in an answer (by a web page, a document or another person in a
shared thread) could carry data out in its query string. So answers go out with previews
suppressed (on Discord the message flag SUPPRESS_EMBEDS; Slack's unfurls are off already),
unless the person chose to see them. The choice is stored in the user's settings like
``/settings voice``.
"""

from __future__ import annotations

from core.db.outage import unavailable
from core.features import FeatureContext, FeatureParts
from core.identity.profile import Profiles
from core.people import People
from core.settings.field import SettingField
from core.settings.switch import switch_field
from core.types import PlatformIdentity

PREVIEWS_SETTING = "link_previews"
PREVIEWS_HELP = (
    "Link previews: /settings previews on (links in my answers show a preview, fetched by the platform) "
    "or /settings previews off (the default)."
)


class LinkPreviews:
    """Whether a person wants link previews on the answers they get (chosen with :func:`previews_field`)."""

    def __init__(self, *, people: People) -> None:
        self.people = people

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


def previews_field(profiles: Profiles) -> SettingField:
    """``previews``: on lets the platform show previews of links in answers (``users.settings["link_previews"]``)."""
    return switch_field(
        profiles,
        name="previews",
        key=PREVIEWS_SETTING,
        label="Link previews",
        help="Link previews on my answers: on or off",
        when_on=lambda hint: f"Links in my answers show previews. Turn them off with {hint('off')}.",
        when_off=lambda hint: f"Links in my answers show no previews. Turn them on with {hint('on')}.",
        saved_on="Links in my answers now show previews (the platform fetches them).",
        saved_off="Links in my answers show no previews again.",
        refusal=PREVIEWS_HELP,
    )


class Previews:
    """Link previews as a feature unit: the ``previews`` setting; :attr:`previews` once installed (the Discord
    adapter asks its ``wanted`` before posting an answer)."""

    name = "previews"

    def __init__(self) -> None:
        self.previews: LinkPreviews | None = None

    def install(self, context: FeatureContext) -> FeatureParts:
        self.previews = LinkPreviews(people=context.people)
        return FeatureParts(settings=[previews_field(Profiles(context.db, changed=context.people.changed))])
