"""The settings registry through its views: /settings on each platform's syntax, the web form, the checks made
before anything is stored (the daily platform only where that platform is configured), and a saved change seen
by another process's cache without anyone calling ``People.changed()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import select

from bot.settings_html import settings_page
from core.chat import ChatService
from core.commands import CommandRequest, CommandSet, options_from_line
from core.db.database import Database
from core.db.models import User
from core.db.people import PeopleRepository
from core.identity.account import AccountSettings
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from core.settings.field import SettingField
from core.types import ConversationRef, PlatformIdentity
from tests.conftest import make_chat_service
from tests.settings_helpers import every_setting

ALLOWED = ("discord:*", "slack:*", "terminal:*", "test:*")


def _who(platform: str) -> PlatformIdentity:
    return PlatformIdentity(platform, "w1", f"ada-{platform}", display_name="Ada")


class Kit:
    """A CommandSet whose /settings is the view of every field, and the web form's reader."""

    def __init__(self, database: Database, model: OpenAIModel, platforms: Sequence[str] = ("discord", "slack")) -> None:
        self.db = database
        self.chat: ChatService = make_chat_service(database, model, allowed=ALLOWED)
        self.registry = every_setting(self.chat, Profiles(database), platforms=platforms)
        self.commands = CommandSet(self.chat, model, self.registry)
        self.account = AccountSettings(people=self.chat.people, registry=self.registry)

    async def typed(self, platform: str, line: str) -> str:
        """``/settings LINE`` typed on a one-line platform (the terminal, Slack)."""
        command = self.commands.commands["settings"]
        return await self.run(platform, options_from_line(command, line))

    async def run(self, platform: str, options: dict[str, str]) -> str:
        identity = _who(platform)
        place = ConversationRef(platform, "w1", f"dm-{identity.user_id}")
        reply = await self.commands.run("settings", CommandRequest(identity, place, options))
        assert reply.private
        return reply.text

    async def stored(self, platform: str) -> tuple[str, str | None, dict[str, object]]:
        user = (await self.chat.people.admit(_who(platform))).user
        assert user is not None
        async with self.db.session() as session:
            row = (await session.execute(select(User).where(User.id == user.id))).scalar_one()
            return row.display_name, row.timezone, dict(row.settings or {})


@pytest.fixture
def kit(database: Database, model: OpenAIModel) -> Kit:
    return Kit(database, model)


async def test_settings_alone_shows_every_field_in_each_platforms_syntax(kit: Kit) -> None:
    on_discord = (await kit.run("discord", {})).splitlines()
    on_terminal = (await kit.typed("terminal", "")).splitlines()

    assert on_discord == [
        "Your time zone is Europe/Paris. Change it with /settings timezone:Europe/Paris (any IANA name).",
        "I call you Ada. Change it with /settings name:<name>.",
        "I close your day at 22:30 your time (the default). Change it with /settings daily_time:22:30 (or off).",
        "Your daily summary comes to the DM of the platform you last wrote on. "
        "Change it with /settings daily_platform:discord|slack.",
        "Answers come as text only. Add speech with /settings voice:on; /speak reads the last answer.",
        "Links in my answers show no previews. Turn them on with /settings previews:on.",
    ], "the Drive folder is left out: Google is not configured here"
    assert (
        on_terminal[0]
        == "Your time zone is Europe/Paris. Change it with /settings timezone Europe/Paris (any IANA name)."
    )
    assert "Change it with /settings daily-platform discord|slack." in on_terminal[3]
    assert not any(":" in line.split("/settings ")[1].split()[0] for line in on_terminal), "no Discord syntax"


@pytest.mark.parametrize(
    ("line", "answer", "shown"),
    [
        ("timezone asia/tokyo", "Time zone set to Asia/Tokyo.", "Your time zone is Asia/Tokyo."),
        ("Asia/Tokyo", "Time zone set to Asia/Tokyo.", "Your time zone is Asia/Tokyo."),
        ("time zone Asia/Tokyo", "Time zone set to Asia/Tokyo.", "Your time zone is Asia/Tokyo."),
        ("tz=Asia/Tokyo", "Time zone set to Asia/Tokyo.", "Your time zone is Asia/Tokyo."),
        ("name Ada Lovelace", "I'll call you Ada Lovelace.", "I call you Ada Lovelace."),
        ("daily-time 21h15", "I'll close your day at 21:15 your time.", "I close your day at 21:15 your time."),
        ("daily-time off", "Daily summaries are off. /export still works.", "Daily summaries are off."),
        ("daily-platform Slack", "Your daily summary will come to your Slack DM.", "comes to your Slack DM"),
        ("voice on", "I'll send every answer also as speech.", "Every answer also comes as speech."),
        ("previews=on", "Links in my answers now show previews (the platform fetches them).", "show previews."),
    ],
)
async def test_each_field_is_changed_by_a_typed_line_and_shown_back(
    kit: Kit, line: str, answer: str, shown: str
) -> None:
    assert await kit.typed("terminal", line) == answer
    assert shown in await kit.typed("terminal", "")


async def test_each_field_is_changed_through_discords_options(kit: Kit) -> None:
    answer = await kit.run(
        "discord",
        {"timezone": "America/New_York", "name": "Ada L.", "daily_time": "07:05", "daily_platform": "discord",
         "voice": "on", "previews": "on"},
    )  # fmt: skip

    assert answer.splitlines() == [
        "Time zone set to America/New_York.",
        "I'll call you Ada L..",
        "I'll close your day at 07:05 your time.",
        "Your daily summary will come to your Discord DM.",
        "I'll send every answer also as speech.",
        "Links in my answers now show previews (the platform fetches them).",
    ]
    name, zone, stored = await kit.stored("discord")
    assert (name, zone) == ("Ada L.", "America/New_York")
    assert stored == {"daily_time": "07:05", "daily_platform": "discord", "voice": "on", "link_previews": "on"}


async def test_several_settings_on_one_line_are_all_checked_before_any_is_stored(kit: Kit) -> None:
    assert await kit.typed("slack", "daily-time 21:15 daily-platform slack") == (
        "I'll close your day at 21:15 your time.\nYour daily summary will come to your Slack DM."
    )
    refused = await kit.typed("slack", "daily-time 06:00 voice loud")
    assert refused.startswith("Voice: /settings voice on")
    assert (await kit.stored("slack"))[2] == {"daily_time": "21:15", "daily_platform": "slack"}, "06:00 not stored"


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ("timezone Mars/Olympus", "“Mars/Olympus” is not a time zone I know."),
        ("name " + "x" * 81, "A name is at most 80 characters on one line."),
        ("daily-time 25:99", "Give the daily time as HH:MM (e.g. 22:30) or off."),
        ("daily-platform telegram", "The daily platform is one of: discord, slack (or last: where you wrote last)."),
        ("voice loud", "Voice: /settings voice on"),
        ("previews maybe", "Link previews: /settings previews on"),
        ("drive-folder Logs", "Google is not set up on this assistant"),
    ],
)
async def test_an_invalid_value_is_refused_clearly_and_nothing_is_stored(kit: Kit, line: str, refusal: str) -> None:
    assert (await kit.typed("terminal", line)).startswith(refusal)
    assert await kit.stored("terminal") == ("Ada", None, {})


async def test_the_daily_platform_is_accepted_only_where_that_platform_is_configured(
    database: Database, model: OpenAIModel
) -> None:
    discord_only = Kit(database, model, platforms=("discord",))
    assert await discord_only.typed("terminal", "daily-platform slack") == (
        "Slack is not configured on this assistant; the daily summary can go to: discord."
    )
    assert await discord_only.typed("terminal", "daily-platform discord") == (
        "Your daily summary will come to your Discord DM."
    )
    assert await discord_only.typed("terminal", "daily-platform last") == (
        "Your daily summary will come to the DM of the platform you last wrote on."
    )
    view = await discord_only.account.view((await discord_only.chat.people.admit(_who("terminal"))).user)  # type: ignore[arg-type]
    [row] = [r for r in view.settings if r.name == "daily_platform"]
    assert [v for v, _ in row.choices] == ["last", "discord"], "the web form offers only configured platforms"
    refused = await discord_only.account.apply(
        (await discord_only.chat.people.admit(_who("terminal"))).user,  # type: ignore[arg-type]
        {"daily_platform": "slack", "voice": "on"},
    )
    assert refused.errors == ["Slack is not configured on this assistant; the daily summary can go to: discord."]
    assert (await discord_only.stored("terminal"))[2] == {"daily_platform": ""}, "voice not stored either"

    nowhere = Kit(database, model, platforms=())
    assert await nowhere.typed("terminal", "daily-platform discord") == (
        "No chat platform (Discord or Slack) is configured on this assistant to take the daily summary."
    )
    assert "daily summary comes to" not in await nowhere.typed("terminal", "")
    assert "daily_platform" not in nowhere.commands.commands["settings"].usage + " ".join(
        o.name for o in nowhere.commands.commands["settings"].options
    )


async def test_the_web_form_is_generated_from_the_same_fields(kit: Kit) -> None:
    await kit.typed("terminal", "daily-time 21:15")
    user = (await kit.chat.people.admit(_who("terminal"))).user
    assert user is not None
    view = await kit.account.view(user)
    assert [r.name for r in view.settings] == [o.name for o in kit.commands.commands["settings"].options]
    page = settings_page(view, csrf="c" * 64, assistant="CaptainsLog")
    for row in view.settings:
        assert f'id="{row.name}" name="{row.name}"' in page
    assert 'value="21:15"' in page and "<dt>Daily summary time</dt><dd>21:15</dd>" in page
    assert '<select id="voice" name="voice"><option value="off" selected>Off</option>' in page

    changed = await kit.account.apply(user, {"name": "Ada", "timezone": "", "daily_time": "21:15", "voice": "on"})
    assert changed.saved == ["I'll send every answer also as speech."] and changed.changed == {"voice"}
    assert (await kit.account.apply(user, {"name": "Ada", "voice": "on"})).saved == [], "nothing changed"


async def test_a_saved_change_reaches_another_process_without_anyone_calling_people_changed(
    database: Database, model: OpenAIModel
) -> None:
    here, there = Kit(database, model), Kit(database, model)  # two processes' caches on one database
    who = _who("slack")
    before = (await there.chat.people.admit(who)).user
    assert before is not None and before.settings == {} and before.timezone is None  # decided and cached there
    heard: list[tuple[int, frozenset[str]]] = []
    here.registry.subscribe(lambda user_id, names: heard.append((user_id, names)))

    await here.typed("slack", "voice on")
    await here.typed("slack", "timezone Asia/Tokyo")

    after = (await there.chat.people.admit(who)).user
    assert after is not None and after.settings == {"voice": "on"} and after.timezone == "Asia/Tokyo"
    assert heard == [(before.id, frozenset({"voice"})), (before.id, frozenset({"timezone"}))]
    assert "Every answer also comes as speech." in await there.typed("slack", "")


async def test_a_change_of_several_fields_moves_the_shared_revision_once(kit: Kit) -> None:
    # Every other process re-reads the person at each move: one change, one move (not one per field and one more).
    await kit.typed("slack", "")  # the person exists before counting
    revisions = PeopleRepository(kit.db)
    before = await revisions.revision()

    reply = await kit.typed("slack", "voice on timezone Asia/Tokyo daily-time 21:00 name Ada previews on")

    assert "Time zone set to Asia/Tokyo." in reply
    assert await revisions.revision() == before + 1
    await kit.typed("slack", "voice on")  # stored already: nothing changed, nothing to tell
    assert await revisions.revision() == before + 1


def test_a_field_is_declared_once(kit: Kit) -> None:
    [timezone] = [f for f in kit.registry.fields() if f.name == "timezone"]
    with pytest.raises(ValueError, match="declared twice"):
        kit.registry.add(timezone)
    assert isinstance(timezone, SettingField) and kit.registry.find("Time-Zone") is timezone
