"""Shared pieces of the reminder tests: people with accounts, and a platform's way out that records posts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, select

from core.buttons import Button
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Identity, Message, User
from core.google.calendar import CalendarClient
from core.messenger import Delivery, DeliveryError, Outbox
from core.outbound import OutboundPart
from core.people import People
from core.reminders.anchors import CalendarAnchors
from core.reminders.delivery import ReminderDelivery
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.runner import ReminderRunner
from core.reminders.store import ReminderStore
from core.speak import Speak
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Post:
    account: PlatformIdentity
    text: str
    key: str
    buttons: tuple[Button, ...] = ()


class Crashed(Exception):
    """The process died right after the platform accepted a post (nothing after it ran)."""


@dataclass
class Platform:
    """A platform's way out that keeps each post; a key seen before is not posted again (like a read-back)."""

    platform: str
    posts: list[Post] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)  # accounts whose DMs refuse us for good
    down: bool = False
    looked_back: list[datetime | None] = field(default_factory=list)  # each send's earlier_try
    crash_after_post: bool = False  # raise Crashed once the post is made

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        return await self.send_part(account, OutboundPart(f"plain-{len(self.posts)}", text=text))

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        raise DeliveryError("not used by reminders")

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        self.looked_back.append(earlier_try)
        if self.down:
            raise DeliveryError(f"{self.platform} is down", retryable=True)
        if account.user_id in self.closed:
            raise DeliveryError("the person does not accept direct messages from me")
        seen = [n for n, post in enumerate(self.posts) if post.key == part.key]
        if not (earlier_try is not None and seen):
            self.posts.append(Post(account, part.text, part.key, part.buttons))
            seen = [len(self.posts) - 1]
            if self.crash_after_post:
                raise Crashed(part.key)
        place = ConversationRef(self.platform, account.workspace, f"dm-{account.user_id}")
        return Delivery(self.platform, place, (f"{self.platform}-{seen[0]}",))

    def texts(self) -> list[str]:
        return [post.text for post in self.posts]


async def make_user(db: Database, name: str, *, timezone: str, platforms: tuple[str, ...] = ("discord",)) -> int:
    """A user with one account per platform (the first platform used most recently)."""
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id),
            {"email": f"{name.lower()}@example.org", "display_name": name, "timezone": timezone,
             "settings": {}, "created_at": EPOCH},
        )  # fmt: skip
        for rank, platform in enumerate(platforms):
            await conn.execute(
                insert(Identity),
                {"user_id": user_id, "platform": platform, "workspace": "W1" if platform == "slack" else "",
                 "platform_user_id": f"{name.lower()}-{platform}", "display_name": name, "created_at": EPOCH,
                 "last_used_at": datetime(2026, 1, 2 + len(platforms) - rank, tzinfo=UTC)},
            )  # fmt: skip
    return int(user_id)


async def assistant_messages(db: Database, user_id: int) -> list[str]:
    """The assistant messages stored in the person's conversations, oldest first."""
    from core.db.models import Conversation

    async with db.session() as session:
        rows = await session.execute(
            select(Message.content)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.user_id == user_id, Message.role == "assistant")
            .order_by(Message.id)
        )
        return list(rows.scalars())


@dataclass
class Kit:
    """One process's reminder machinery on a database, with its platforms."""

    db: Database
    clock: ManualClock
    store: ReminderStore
    runner: ReminderRunner
    outbox: Outbox
    people: People


def kit(
    db: Database,
    clock: ManualClock,
    platforms: Sequence[Platform],
    *,
    worker: str = "p1",
    max_active: int = 100,
    calendar: CalendarClient | None = None,
) -> Kit:
    """The store, runner and outbox of one process (its messengers registered); with `calendar`, reminders
    anchored to events follow them."""
    from core.access import AccessPolicy

    people = People(db, accounts=AccessPolicy(()), clock=clock)
    outbox = Outbox(people)
    for platform in platforms:
        outbox.register(platform)
    store = ReminderStore(db, clock=clock, max_active=max_active)
    occurrences = OccurrenceRepository(db, worker=worker)
    anchors = CalendarAnchors(calendar, store, clock=clock) if calendar is not None else None
    delivery = ReminderDelivery(occurrences, Speak(db, outbox, clock=clock), clock=clock, anchors=anchors)
    runner = ReminderRunner(
        database=db, store=store, occurrences=occurrences, delivery=delivery, clock=clock, sleep=clock.sleep,
        anchors=anchors,
    )  # fmt: skip
    return Kit(db, clock, store, runner, outbox, people)
