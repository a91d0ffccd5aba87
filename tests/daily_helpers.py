"""Builders for the daily-log tests: people with accounts, a day of stored messages, the job wired on fakes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import insert

from core.clock import ManualClock
from core.daily.claim import LEASE, DailyLogRepository
from core.daily.day import DayReader
from core.daily.document import PdfCache
from core.daily.drive_upload import DayUploader
from core.daily.job import DailyJob
from core.daily.runner import DailyRunner
from core.daily.summary import DaySummaryWriter
from core.db.database import Database
from core.db.models import Conversation, Identity, Message, User
from core.db.people import PeopleRepository
from core.events import EventBus, GoogleBroken
from core.export import render_day_pdf
from core.google.drive import DriveClient
from core.google.oauth import CONNECT_SCOPES, new_code_verifier
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from core.media.files import StoredFiles
from core.messenger import Delivery, DeliveryError, Outbox
from core.outbound import OutboundPart
from core.speak import Speak
from core.types import ConversationRef, OutgoingFile, PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit

ASSISTANT = "CaptainsLog"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Post:
    platform: str
    account: PlatformIdentity
    text: str
    files: list[OutgoingFile]


@dataclass
class RecordingMessenger:
    """A platform's way out that keeps what was posted (or fails when told to)."""

    platform: str
    posts: list[Post] = field(default_factory=list)
    failing: bool = False
    refusing: bool = False  # refuses for good, as a Discord user with closed DMs
    keys: dict[str, int] = field(default_factory=dict)  # idempotency key of each part posted -> its post

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        if self.failing:
            raise DeliveryError(f"{self.platform} is down", retryable=True)
        self.posts.append(Post(self.platform, account, text, list(files)))
        return Delivery(self.platform, ConversationRef(self.platform, account.workspace, "dm"), (str(len(self.posts)),))

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        raise DeliveryError("not used here")

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """A part of a post: a text is a new post, a file joins the text posted just before it.

        Like a platform read back after an unsure try: a part already posted under its key is not posted again.
        """
        if self.failing:
            raise DeliveryError(f"{self.platform} is down", retryable=True)
        if self.refusing:
            raise DeliveryError(f"{account.key} does not accept direct messages")
        if earlier_try is None or part.key not in self.keys:
            if part.file is None:
                self.posts.append(Post(self.platform, account, part.text, []))
            else:
                self.posts[-1].files.append(part.file)
            self.keys[part.key] = len(self.posts)
        place = ConversationRef(self.platform, account.workspace, "dm")
        return Delivery(self.platform, place, (str(self.keys[part.key]),))


class People:
    """Users, their accounts and conversations, and their stored messages."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.files = StoredFiles(db)
        self._conversations: dict[tuple[int, str, str], int] = {}

    async def user(
        self,
        name: str,
        *,
        timezone: str,
        settings: dict[str, Any] | None = None,
        platforms: tuple[str, ...] = ("discord", "slack"),
    ) -> int:
        async with self.db.engine.begin() as conn:
            user_id = await conn.scalar(
                insert(User).returning(User.id),
                {"email": f"{name.lower()}@example.org", "display_name": name, "timezone": timezone,
                 "settings": settings or {}, "created_at": EPOCH},
            )  # fmt: skip
            for platform in platforms:
                await conn.execute(
                    insert(Identity),
                    {"user_id": user_id, "platform": platform, "workspace": "W1" if platform == "slack" else "",
                     "platform_user_id": f"{name.lower()}-{platform}", "display_name": name,
                     "created_at": EPOCH},
                )  # fmt: skip
        return int(user_id)

    async def conversation(self, owner: int, platform: str, channel: str = "dm") -> int:
        key = (owner, platform, channel)
        if key not in self._conversations:
            async with self.db.engine.begin() as conn:
                self._conversations[key] = int(
                    await conn.scalar(
                        insert(Conversation).returning(Conversation.id),
                        {
                            "user_id": owner,
                            "platform": platform,
                            "workspace": "W1",
                            "channel": f"{channel}-{owner}",
                            "thread": "",
                            "created_at": EPOCH,
                        },
                    )  # fmt: skip
                )
        return self._conversations[key]

    async def exchange(
        self,
        user_id: int,
        at: datetime,
        question: str,
        answer: str,
        *,
        platform: str = "discord",
        conversation_id: int | None = None,
        image: bytes | None = None,
        answer_image: bytes | None = None,
    ) -> tuple[int, int]:
        """A question by `user_id` at `at` and the assistant's answer a few seconds later."""
        conversation_id = conversation_id or await self.conversation(user_id, platform)
        async with self.db.engine.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        insert(Message).returning(Message.id, sort_by_parameter_order=True),
                        [
                            {
                                "conversation_id": conversation_id,
                                "author_user_id": user_id,
                                "role": "user",
                                "content": question,
                                "created_at": at,
                                "attachments": [],
                                "platform_parts": [],
                            },
                            {
                                "conversation_id": conversation_id,
                                "author_user_id": None,
                                "role": "assistant",
                                "content": answer,
                                "created_at": at + timedelta(seconds=5),
                                "attachments": [],
                                "platform_parts": [],
                            },
                        ],
                    )  # fmt: skip
                )
                .scalars()
                .all()
            )
        for message_id, data, source in ((ids[0], image, "user"), (ids[1], answer_image, "assistant")):
            if data is not None:
                await self.files.save(user_id=user_id, message_id=message_id, kind="image", source=source,
                                      filename=f"{source}.png", content_type="image/png", data=data)  # fmt: skip
        return ids[0], ids[1]


async def connect_google(db: Database, fake: FakeGoogle, kit: GoogleKit, user_id: int, email: str) -> None:
    """The user goes through consent for Drive and Calendar (the real OAuth flow against the fake)."""
    fake.consent.email = email
    verifier = new_code_verifier()
    url = kit.oauth.authorization_url(state=f"s{user_id}", code_verifier=verifier, scopes=CONNECT_SCOPES)
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    code = httpx.URL(answer.headers["location"]).params["code"]
    grant = await kit.oauth.exchange(code=code, code_verifier=verifier, scopes=CONNECT_SCOPES)
    await kit.store.save(user_id, refresh_token=grant.refresh_token, access_token=grant.access_token,
                         expiry=grant.expiry, scopes=grant.scopes)  # fmt: skip


@dataclass
class Process:
    """One bot process's daily-log pieces, on its own Database engine."""

    db: Database
    job: DailyJob
    runner: DailyRunner
    repo: DailyLogRepository
    outbox: Outbox
    reconnects: list[int]


def daily_process(
    db: Database,
    model: OpenAIModel,
    clock: ManualClock,
    *,
    messengers: Sequence[RecordingMessenger],
    pdf_dir: Path,
    kit: GoogleKit | None = None,
    worker: str = "proc-1",
    lease: timedelta = LEASE,
    default_time: str = "22:30",
) -> Process:
    """The job and runner as the container builds them, rendering in a thread."""
    outbox = Outbox(PeopleRepository(db))
    for messenger in messengers:
        outbox.register(messenger)
    reader = DayReader(db, default_timezone="UTC")
    repo = DailyLogRepository(db, worker=worker, lease=lease)
    reconnects: list[int] = []  # who was heard to need a new Google connection
    events = EventBus()
    events.subscribe(GoogleBroken, lambda event: reconnects.append(event.user_id))
    uploader = None
    if kit is not None:
        uploader = DayUploader(drive=DriveClient(kit.api), tokens=kit.store, profiles=Profiles(db),
                               folder_name=ASSISTANT, events=events)  # fmt: skip
    job = DailyJob(
        repo=repo, reader=reader, files=StoredFiles(db, clock=clock), writer=DaySummaryWriter(model),
        render=render_day_pdf, pdfs=PdfCache(pdf_dir), speak=Speak(db, outbox, clock=clock), uploader=uploader,
        clock=clock,
        assistant_name=ASSISTANT,
    )  # fmt: skip
    runner = DailyRunner(job=job, reader=reader, repo=repo, clock=clock, default_time=default_time)
    return Process(db, job, runner, repo, outbox, reconnects)
