"""Long-term memory on Discord and on Slack, end to end through discord.py and slack-bolt.

The real container with memory extraction on; the OpenAI fake's embeddings
follow topics (``topic_embedding``), so search finds what a user told.  What
is asserted is what people read: /memory, /forget-me and the answers, and what
the search_memory tool handed the model.
"""

from __future__ import annotations

import pytest

from tests.e2e.platform_bot import (
    PlatformBot,
    answer_requests,
    platform_bot_fixture,
    tool_messages,
    wikipedia,  # noqa: F401 - fixture
)
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls, topic_embedding

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

FACT = "Ana, the user's sister, lives in Lisbon."
OTHER_FACT = "The user's cat is called Miso."
NOTHING = "I don't remember anything about you yet."


bot = platform_bot_fixture(topic_embedding, memory_extraction=True, embedding_dimensions=256)


async def tell(bot: PlatformBot, user: str, text: str, fact: str) -> None:
    """The user tells the bot something it remembers as ``fact``; waits until it is stored and indexed."""
    bot.brain.memories.append([fact])
    bot.brain.main.append(Reply("Noted!"))
    assert await bot.says(user, text) == "Noted!"
    await bot.idle()


async def test_a_fact_is_listed_searched_found_by_the_tool_and_forgotten_and_stays_private(
    bot: PlatformBot, openai_fake: FakeOpenAI
) -> None:
    ada = bot.new_user("ada")
    bob = bot.new_user("bob")
    await tell(bot, ada, "Remember that my sister Ana lives in Lisbon", FACT)

    listing = (await bot.command(ada, "memory")).text
    found = (await bot.command(ada, "memory", {"words": "Lisbon"})).text
    bobs = (await bot.command(bob, "memory")).text
    bobs_search = (await bot.command(bob, "memory", {"words": "Lisbon"})).text

    assert listing.splitlines()[0] == "What I remember about you (newest first):"
    assert listing.splitlines()[1].startswith(f"1. {FACT} (")
    assert found.splitlines()[1].startswith(f"1. {FACT} (")
    assert bobs == NOTHING, "another user's /memory never shows the first user's facts"
    assert FACT not in bobs_search and "Lisbon" in bobs_search

    bot.brain.main.extend(
        [ToolCalls([("search_memory", {"query": "sister Lisbon"})]), Reply("You said she lives in Lisbon.")]
    )
    answer = await bot.says(ada, "Where did I say my sister lives?")
    await bot.idle()
    assert answer == "You said she lives in Lisbon."
    [result] = tool_messages(answer_requests(openai_fake)[-1])
    # The message itself is in this DM's window, which the model already sees: the tool gives the memory.
    assert FACT in result and "Remember that my sister Ana lives in Lisbon" not in result

    # Bob's memory search does not reach Ada's messages either.
    bot.brain.main.extend([ToolCalls([("search_memory", {"query": "sister Lisbon"})]), Reply("I don't know.")])
    assert await bot.says(bob, "Where does my sister live?") == "I don't know."
    await bot.idle()
    [bobs_result] = tool_messages(answer_requests(openai_fake)[-1])
    assert "Lisbon" not in bobs_result.replace("sister Lisbon", "")

    assert (await bot.command(ada, "memory", {"words": "forget 1"})).text == f"Forgotten: {FACT}"
    assert (await bot.command(ada, "memory")).text == NOTHING


async def test_forget_me_asks_for_confirmation_then_deletes_everything(
    bot: PlatformBot, openai_fake: FakeOpenAI
) -> None:
    ada = bot.new_user("ada")
    await tell(bot, ada, "Remember that my sister Ana lives in Lisbon", FACT)
    await tell(bot, ada, "My cat is called Miso", OTHER_FACT)

    asked = (await bot.command(ada, "forget-me")).text
    still = (await bot.command(ada, "memory")).text
    deleted = (await bot.command(ada, "forget-me", {"confirm": "DELETE"})).text
    after = (await bot.command(ada, "memory")).text

    assert asked.startswith("This deletes everything stored about you") and "confirm:DELETE" in asked
    assert FACT in still and OTHER_FACT in still
    assert deleted.startswith("Done: everything I stored about you is deleted.")
    assert after == NOTHING

    # Nothing of before reaches the model when she writes again.
    bot.brain.main.append(Reply("Hello! Nice to meet you."))
    assert await bot.says(ada, "Hello again, where does my sister live?") == "Hello! Nice to meet you."
    sent = str(answer_requests(openai_fake)[-1]["messages"])
    assert "Lisbon" not in sent and "Miso" not in sent
