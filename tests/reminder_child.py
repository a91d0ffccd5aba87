"""A reminder process that posts and then hangs before recording the delivery, to be killed with -9.

``python -m tests.reminder_child DATABASE_URL POSTS_FILE`` runs one scheduler pass at
:data:`NOW` on the database, through :class:`FilePlatform`, which appends each post to
POSTS_FILE (one JSON line with its idempotency key) and then waits forever: the test
kills the process there, between the platform accepting the post and the record of it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.clock import ManualClock
from core.db.database import Database
from core.messenger import Delivery
from core.outbound import OutboundPart
from core.types import ConversationRef, PlatformIdentity
from tests.reminder_helpers import kit

NOW = datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)


class FilePlatform:
    """A platform whose posts are lines of a file, so they outlive the process; a key posted before is found."""

    platform = "discord"

    def __init__(self, path: Path, *, hang: bool) -> None:
        self.path = path
        self.hang = hang

    def posts(self) -> list[dict[str, str]]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.exists() else []

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        found = [n for n, post in enumerate(self.posts()) if post["key"] == part.key]
        if not (earlier_try is not None and found):
            with self.path.open("a") as out:
                out.write(json.dumps({"key": part.key, "text": part.text}) + "\n")
            found = [len(self.posts()) - 1]
        if self.hang:
            print("posted", flush=True)  # the test kills the process on this line
            await asyncio.Event().wait()
        return Delivery("discord", ConversationRef("discord", "", f"dm-{account.user_id}"), (f"m{found[0]}",))

    async def send_to_account(self, account: PlatformIdentity, text: str, files: object = ()) -> Delivery:
        raise NotImplementedError

    async def send_to_conversation(self, place: ConversationRef, text: str, files: object = ()) -> Delivery:
        raise NotImplementedError


async def main(url: str, posts: str) -> None:
    db = Database(url)
    k = kit(db, ManualClock(NOW), [FilePlatform(Path(posts), hang=True)], worker="child")  # type: ignore[list-item]
    await k.runner.run_due()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
