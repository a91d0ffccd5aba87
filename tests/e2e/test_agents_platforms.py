"""Agents and voice on Discord and on Slack, end to end through discord.py and slack-bolt.

The real container talks to the OpenAI fake (main, vision, search, speech and
transcription endpoints) and the MediaWiki fake; assertions are what the user
reads in their DM, what each model was sent, and the files the bot uploaded.
"""

from __future__ import annotations

import pytest

from core.attachments import MB
from tests.e2e.platform_bot import (
    VISION_MODEL,
    PlatformBot,
    answer_requests,
    platform_bot_fixture,
    requests_for,
    tool_messages,
    wikipedia,  # noqa: F401 - fixture
)
from tests.fakes.openai_server import PNG_BYTES, Error, FakeOpenAI, Reply, ToolCalls
from tests.fakes.wikipedia_server import FakeWikipedia

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

FINDINGS = "A small blue square on a white background; no text."
ADA_LINK = "https://en.wikipedia.org/wiki/Ada_Lovelace"
SEARCH_LINK = "https://cycling.example/tdf-2026"


bot = platform_bot_fixture()


async def test_an_image_is_looked_at_once_and_later_questions_use_the_findings(
    bot: PlatformBot, openai_fake: FakeOpenAI
) -> None:
    ada = bot.new_user("ada")
    bot.brain.vision.append(Reply(FINDINGS))
    bot.brain.main.extend([Reply("It is a small blue square."), Reply("It was blue.")])

    first = await bot.says(ada, "what is in this picture?", [("photo.png", PNG_BYTES, "image/png")])
    second = await bot.says(ada, "what colour was the square in my picture?")

    assert first.endswith("It is a small blue square.")
    assert second.endswith("It was blue.")
    [look] = requests_for(openai_fake, VISION_MODEL)
    [question] = [m for m in look["messages"] if m["role"] == "user"]
    parts = {p["type"]: p for p in question["content"]}
    assert parts["text"]["text"] == "what is in this picture?"
    assert parts["image_url"]["image_url"]["url"].startswith("data:image/")
    first_answer, second_answer = answer_requests(openai_fake)
    flagged = f"[from the vision agent] {FINDINGS}"
    assert flagged in str(first_answer["messages"]), "the main model gets the findings, flagged with their source"
    assert flagged in str(second_answer["messages"]), "the stored findings reach the later turn"
    assert "image_url" not in str(second_answer["messages"])


async def test_a_voice_message_is_transcribed_shown_and_answered(bot: PlatformBot, openai_fake: FakeOpenAI) -> None:
    ada = bot.new_user("ada")
    openai_fake.transcription_text = "What is on my list for today?"
    bot.brain.main.append(Reply("Your list is empty."))

    answer = await bot.says(ada, "", [("voice-message.ogg", b"OggS" + bytes(2000), "audio/ogg")], voice=True)

    assert "I heard: “What is on my list for today?”" in answer
    assert answer.endswith("Your list is empty.")
    [upload] = openai_fake.requests_to("/v1/audio/transcriptions")
    assert upload.form is not None and upload.form["file"] == b"OggS" + bytes(2000)
    [asked] = answer_requests(openai_fake)
    assert "What is on my list for today?" in str(asked["messages"][-1]["content"])


async def test_a_wikipedia_turn_shows_its_status_and_the_article_link(
    bot: PlatformBot,
    openai_fake: FakeOpenAI,
    wikipedia: FakeWikipedia,  # noqa: F811
) -> None:
    ada = bot.new_user("ada")
    wikipedia.add_article("Ada Lovelace", "English mathematician and writer.", description="Mathematician")
    bot.brain.main.extend(
        [
            ToolCalls([("wikipedia", {"query": "Ada Lovelace"})]),
            Reply("She was an English mathematician.", first_delay=1.0),
        ]
    )

    answer = await bot.says(ada, "who was Ada Lovelace?")

    assert answer.startswith("She was an English mathematician.")
    assert ADA_LINK in answer, "the article link reaches the user though the model left it out"
    assert any("Looking it up on Wikipedia…" in shown for shown in bot.shown_while_answering(ada))
    [result] = tool_messages(answer_requests(openai_fake)[-1])
    assert result.startswith("[from the Wikipedia] Ada Lovelace — Mathematician") and ADA_LINK in result


async def test_a_web_search_turn_shows_its_status_and_sources(bot: PlatformBot, openai_fake: FakeOpenAI) -> None:
    ada = bot.new_user("ada")
    bot.brain.search.append(
        Reply(
            "Tadej Pogačar won the 2026 Tour [1].",
            extra={"citations": [SEARCH_LINK], "search_results": [{"title": "Tour 2026", "url": SEARCH_LINK}]},
        )
    )
    bot.brain.main.extend(
        [
            ToolCalls([("web_search", {"query": "2026 Tour de France winner"})]),
            Reply("Tadej Pogačar won it.", first_delay=1.0),
        ]
    )

    answer = await bot.says(ada, "who won the Tour this year?")

    assert answer.startswith("Tadej Pogačar won it.")
    assert SEARCH_LINK in answer and "Tour 2026" in answer
    assert any("Searching the web…" in shown for shown in bot.shown_while_answering(ada))
    [search] = requests_for(openai_fake, "sonar-test")
    assert "2026 Tour de France winner" in str(search["messages"])


async def test_a_link_the_model_already_gave_is_not_repeated(bot: PlatformBot) -> None:
    ada = bot.new_user("ada")
    bot.wikipedia.add_article("Ada Lovelace", "English mathematician and writer.")
    bot.brain.main.extend(
        [ToolCalls([("wikipedia", {"query": "Ada Lovelace"})]), Reply(f"See {ADA_LINK} for her life.")]
    )

    answer = await bot.says(ada, "who was Ada Lovelace?")

    assert answer == f"See {ADA_LINK} for her life."


async def test_speak_uploads_audio_and_voice_on_sends_answers_as_speech(
    bot: PlatformBot, openai_fake: FakeOpenAI
) -> None:
    ada = bot.new_user("ada")
    assert (await bot.command(ada, "speak")).text == "There is no answer here yet for me to read aloud."
    bot.brain.main.extend([Reply("The sea is calm today."), Reply("Tomorrow brings rain.")])
    await bot.says(ada, "how is the sea?")

    spoken = await bot.command(ada, "speak")

    assert spoken.uploads == ["answer.mp3"]
    [speech] = openai_fake.requests_to("/v1/audio/speech")
    assert speech.json["input"] == "The sea is calm today."

    turned_on = await bot.command(ada, "settings", {"voice": "on"})
    assert turned_on.text == "I'll send every answer also as speech."
    answer = await bot.says(ada, "and tomorrow?")
    assert answer.endswith("Tomorrow brings rain.")
    assert await bot.uploaded(ada, 2) == ["answer.mp3", "answer.mp3"]
    assert openai_fake.requests_to("/v1/audio/speech")[-1].json["input"] == "Tomorrow brings rain."


async def test_a_failing_vision_model_still_gets_an_answer(bot: PlatformBot, openai_fake: FakeOpenAI) -> None:
    ada = bot.new_user("ada")
    bot.brain.vision.append(Error(500, "vision is down"))
    bot.brain.main.append(Reply("I couldn't see the image, sorry."))

    answer = await bot.says(ada, "what is this?", [("photo.png", PNG_BYTES, "image/png")])

    assert answer.endswith("I couldn't see the image, sorry.")
    sent = str(answer_requests(openai_fake)[-1]["messages"])
    assert "[from the vision agent] Error: could not look at the image." in sent


async def test_wikipedia_down_gives_the_model_an_error_and_the_user_an_answer(
    bot: PlatformBot,
    openai_fake: FakeOpenAI,
    wikipedia: FakeWikipedia,  # noqa: F811
) -> None:
    ada = bot.new_user("ada")
    wikipedia.fail_next(503, times=5)
    bot.brain.main.extend(
        [ToolCalls([("wikipedia", {"query": "Ada Lovelace"})]), Reply("I could not look that up on Wikipedia.")]
    )

    answer = await bot.says(ada, "who was Ada Lovelace?")

    assert answer == "I could not look that up on Wikipedia."
    [result] = tool_messages(answer_requests(openai_fake)[-1])
    assert result == "[from the Wikipedia] Error: Wikipedia failed (HTTP 503)."


async def test_audio_too_large_or_of_an_unsupported_format_gets_a_clear_line(
    bot: PlatformBot, openai_fake: FakeOpenAI
) -> None:
    ada = bot.new_user("ada")

    too_large = await bot.says(ada, "listen", [("long.ogg", bytes(26 * MB), "audio/ogg")])
    unsupported = await bot.says(ada, "and this", [("memo.aiff", b"FORM" + bytes(100), "audio/aiff")])

    assert "long.ogg is too large: I read audio up to 25 MB." in too_large
    assert "memo.aiff is not supported yet: I can only read images and audio." in unsupported
    assert openai_fake.requests_to("/v1/audio/transcriptions") == []
