"""The timeline opened further back (a search hit, a date, an older page) leads back up: "Newer messages"
opens the page just above, exactly (no message skipped or shown twice), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW
from tests.memory_helpers import add_conversation, add_message
from tests.web_helpers import ADA, BOB, WebKit, web_kit

SHOWN = re.compile(r'<li class="entry" id="m(\d+)">')
NEWER = re.compile(r'<a href="([^"]+)" rel="prev">Newer messages</a>')
OLDER = re.compile(r'<a href="([^"]+)" rel="next">Older messages</a>')


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> WebKit:
    return web_kit(database, model)


async def test_newer_messages_lead_back_up_page_by_page_to_the_newest(kit: WebKit) -> None:
    ada, bob = await kit.user_id(ADA), await kit.user_id(BOB)
    slack = await add_conversation(kit.db, ada, "slack", "c-slack", TEST_NOW)
    discord = await add_conversation(kit.db, ada, "discord", "c-discord", TEST_NOW)
    ids = []  # oldest first; two messages in each minute (equal times are ordered by id)
    for n in range(120):
        at = TEST_NOW + timedelta(minutes=n // 2)
        ids.append(await add_message(kit.db, slack if n % 3 else discord, "user", f"note {n}", at, ada))
    bobs = await add_conversation(kit.db, bob, "slack", "c-bob", TEST_NOW)
    bobs_note = await add_message(kit.db, bobs, "user", "bob's newer note", TEST_NOW + timedelta(hours=5), bob)
    async with kit.signed_in(ADA) as client:
        first = (await client.get("/timeline")).text
        second = (await client.get(OLDER.search(first).group(1))).text
        third = (await client.get(OLDER.search(second).group(1))).text
        up_from_third = (await client.get(NEWER.search(third).group(1))).text
        up_from_second = (await client.get(NEWER.search(up_from_third).group(1))).text
        at_the_oldest = (await client.get(f"/timeline?start={ids[0]}")).text
        discord_page = (await client.get(f"/timeline?start={ids[0]}&platform=discord")).text
        bobs_cursor = (await client.get(f"/timeline?start={bobs_note}")).text
    newest_first = [str(i) for i in reversed(ids)]
    assert SHOWN.findall(first) == newest_first[:50] and not NEWER.search(first)  # the newest page: nothing above
    assert SHOWN.findall(third) == newest_first[100:]
    assert SHOWN.findall(up_from_third) == newest_first[50:100]  # exactly the page above, none skipped or twice
    assert SHOWN.findall(up_from_second) == newest_first[:50] and not NEWER.search(up_from_second)
    assert SHOWN.findall(at_the_oldest) == [str(ids[0])]
    assert NEWER.search(at_the_oldest).group(1) == f"/timeline?start={ids[50]}"  # 50 newer: ids[1]..ids[50]
    discord_ids = [i for n, i in enumerate(ids) if n % 3 == 0]
    newer_discord = NEWER.search(discord_page).group(1)
    assert newer_discord == f"/timeline?start={discord_ids[-1]}&amp;platform=discord"  # 39 newer fit on one page
    assert SHOWN.findall(bobs_cursor) == [] and not NEWER.search(bobs_cursor)  # another person's cursor: nothing
