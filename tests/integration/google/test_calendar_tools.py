"""The model's Calendar tools against the Google fake, through the tool registry as the tool loop calls them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.chat.steps import TurnFacts
from core.db.database import Database
from core.db.repositories import UserRecord
from core.events import EventBus, GoogleBroken
from core.google.availability import RECONNECT_NOTE, GoogleAvailability
from core.google.calendar import CalendarClient
from core.google.connection import GoogleConnections
from core.google.tools import calendar_tools
from core.llm import ToolCall
from core.tools.registry import ToolContext, ToolRegistry, ToolResult
from core.types import ConversationRef, IncomingMessage, PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.integration.google.test_google_api import _connected

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Setup:
    def __init__(self, registry: ToolRegistry, availability: GoogleAvailability, user: UserRecord) -> None:
        self.registry = registry
        self.availability = availability
        self.user = user
        self.reconnects: list[int] = []
        self._calls = 0

    async def call(self, name: str, **arguments: object) -> ToolResult:
        self._calls += 1
        context = ToolContext(user=self.user, conversation_id=1, now=NOW, timezone=PARIS)
        return await self.registry.run(ToolCall(f"call_{self._calls}", name, json.dumps(arguments)), context)


def _facts(user: UserRecord) -> TurnFacts:
    identity = PlatformIdentity("test", "", "ada", "Ada")
    incoming = IncomingMessage(ConversationRef("test", "", "ada"), identity, "hi", NOW)
    return TurnFacts(incoming, user, user.id, 1, 1, 2, NOW, PARIS)


@pytest.fixture
async def setup(database: Database, google_fake: FakeGoogle) -> Setup:
    kit, user_id = await _connected(database, google_fake)
    availability = GoogleAvailability(GoogleConnections(kit.store, kit.oauth))
    user = UserRecord(user_id, "Ada", "Europe/Paris", {}, "ada@example.org")
    events = EventBus()
    tools = calendar_tools(CalendarClient(kit.api), availability, events)
    made = Setup(ToolRegistry.of(tools), availability, user)
    events.subscribe(GoogleBroken, lambda event: made.reconnects.append(event.user_id))
    return made


async def test_offered_only_once_google_is_known_to_be_connected(setup: Setup, google_fake: FakeGoogle) -> None:
    assert setup.registry.for_user(setup.user).tools == {}, "unknown yet: not offered"
    assert await setup.availability.before_model(_facts(setup.user)) is None
    offered = set(setup.registry.for_user(setup.user).tools)
    assert offered == {
        "list_calendar_events",
        "find_free_time",
        "create_calendar_event",
        "move_calendar_event",
        "cancel_calendar_event",
    }
    stranger = UserRecord(setup.user.id + 1, "Bob", None, {})
    await setup.availability.before_model(_facts(stranger))
    assert setup.registry.for_user(stranger).tools == {}


async def test_create_list_free_time_move_and_cancel_in_the_users_zone(setup: Setup, google_fake: FakeGoogle) -> None:
    created = await setup.call(
        "create_calendar_event",
        title="Dentist",
        start="2026-11-25T10:00",
        end="2026-11-25T11:00",
        description="Bring the card",
        attendees=["grace@example.org"],
    )
    assert not created.is_error, created.content
    [event] = google_fake.events["primary"].values()
    assert event["start"] == {"dateTime": "2026-11-25T10:00:00+01:00", "timeZone": "Europe/Paris"}
    assert event["attendees"] == [{"email": "grace@example.org"}]
    assert event["extendedProperties"] == {"private": {"captainslog": "1"}}
    assert "Wed 2026-11-25 10:00–11:00 Dentist with grace@example.org" in created.content
    assert event["htmlLink"] in created.content

    listed = await setup.call("list_calendar_events", start="2026-11-25", end="2026-11-25")
    assert "10:00–11:00 Dentist" in listed.content and event["id"] in listed.content

    free = await setup.call("find_free_time", start="2026-11-25T09:00", end="2026-11-25T18:00", minutes=45)
    assert "Wed 2026-11-25 09:00–10:00" in free.content and "Wed 2026-11-25 11:00–18:00" in free.content

    moved = await setup.call("move_calendar_event", event_id=event["id"], start="2026-11-26T15:00")
    assert "Thu 2026-11-26 15:00–16:00 Dentist" in moved.content, "the duration is kept"

    cancelled = await setup.call("cancel_calendar_event", event_id=event["id"])
    assert cancelled.content.startswith("Cancelled:")
    assert google_fake.events["primary"][event["id"]]["status"] == "cancelled"


async def test_events_the_assistant_did_not_create_are_left_alone(setup: Setup, google_fake: FakeGoogle) -> None:
    google_fake.events.setdefault("primary", {})["theirs"] = {
        "id": "theirs",
        "status": "confirmed",
        "summary": "Board meeting",
        "start": {"dateTime": "2026-11-25T14:00:00+01:00"},
        "end": {"dateTime": "2026-11-25T15:00:00+01:00"},
        "htmlLink": "https://www.google.com/calendar/event?eid=theirs",
    }
    for name, arguments in (
        ("move_calendar_event", {"event_id": "theirs", "start": "2026-11-25T16:00"}),
        ("cancel_calendar_event", {"event_id": "theirs"}),
    ):
        result = await setup.call(name, **arguments)
        assert result.is_error and "not created by the assistant" in result.content
    assert google_fake.events["primary"]["theirs"]["status"] == "confirmed"
    assert google_fake.events["primary"]["theirs"]["start"]["dateTime"] == "2026-11-25T14:00:00+01:00"
    missing = await setup.call("cancel_calendar_event", event_id="nope")
    assert missing.is_error and "no event with id" in missing.content


async def test_bad_arguments_get_a_sentence(setup: Setup, google_fake: FakeGoogle) -> None:
    cases = [
        ({"title": "x", "start": "tomorrow at 3", "end": "2026-11-25T11:00"}, "is not an ISO date"),
        ({"title": "x", "start": "2026-11-25T11:00", "end": "2026-11-25T10:00"}, "end after it starts"),
        ({"title": "", "start": "2026-11-25T10:00", "end": "2026-11-25T11:00"}, "title is missing"),
        ({"title": "x", "start": "2026-11-25T10:00", "end": "2026-11-25T11:00", "attendees": "bob"}, "attendees"),
    ]
    for arguments, words in cases:
        result = await setup.call("create_calendar_event", **arguments)
        assert result.is_error and words in result.content, result.content
    assert google_fake.events.get("primary", {}) == {}


async def test_a_revoked_connection_is_an_error_for_the_model_and_a_reconnect_notice(
    setup: Setup, google_fake: FakeGoogle
) -> None:
    await setup.availability.before_model(_facts(setup.user))
    google_fake.revoke_all()
    google_fake.access_tokens.clear()
    result = await setup.call("list_calendar_events", start="2026-11-25", end="2026-11-26")
    assert result.is_error and "connect Google again" in result.content
    assert setup.reconnects == [setup.user.id]
    # The cache was dropped: the next turn sees the broken connection, tools are withdrawn, the model is told.
    addition = await setup.availability.before_model(_facts(setup.user))
    assert addition is not None and list(addition.notes) == [RECONNECT_NOTE]
    assert setup.registry.for_user(setup.user).tools == {}
