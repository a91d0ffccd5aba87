"""Voice out: with /settings voice on every answer also comes as speech, after the text; /speak reads the last
answer. Real openai client against the fake, both databases."""

from __future__ import annotations

import pytest

from core.chat import ChatService
from core.commands import CommandRequest, CommandSet
from core.db.database import Database
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from core.media.commands import NOTHING_TO_SAY, VoiceCommands, voice_commands
from core.media.voice import Speaker
from core.types import OutgoingFile, TextDelta, TurnDone
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import make_chat_service
from tests.fakes.openai_server import Error, FakeOpenAI, Reply
from tests.settings_helpers import every_setting


@pytest.fixture
def voiced(database: Database, model: OpenAIModel) -> tuple[ChatService, CommandSet]:
    chat = make_chat_service(database, model)
    chat.runner.speaker = Speaker(model)
    commands = CommandSet(chat, model, every_setting(chat, Profiles(database)))
    for command in voice_commands(VoiceCommands(chat=chat, speaker=chat.runner.speaker)):
        commands.add(command)
    return chat, commands


async def test_voice_on_sends_each_answer_also_as_speech_after_the_text(
    voiced: tuple[ChatService, CommandSet], openai_fake: FakeOpenAI
) -> None:
    chat, commands = voiced
    openai_fake.queue(Reply("Plain text only."))
    quiet = await say(chat, "hello")
    assert quiet.files == [] and openai_fake.requests_to("/v1/audio/speech") == []

    reply = await commands.run("settings", CommandRequest(ALICE, PLACE, {"voice": "on"}))
    assert reply.text == "I'll send every answer also as speech."
    openai_fake.queue(Reply("Now you can hear me."))
    spoken = await say(chat, "talk to me")

    assert spoken.text == "Now you can hear me."
    (audio,) = spoken.files
    assert audio.content_type.startswith("audio/") and audio.data
    kinds = [type(e).__name__ for e in spoken.events]
    assert kinds.index("OutgoingFile") > max(i for i, e in enumerate(spoken.events) if isinstance(e, TextDelta))
    assert isinstance(spoken.events[-1], TurnDone)
    assert "Now you can hear me." in str(openai_fake.requests_to("/v1/audio/speech")[-1].json)


async def test_a_failed_speech_call_leaves_the_answer_and_says_so(
    voiced: tuple[ChatService, CommandSet], openai_fake: FakeOpenAI
) -> None:
    chat, commands = voiced
    await commands.run("settings", CommandRequest(ALICE, PLACE, {"timezone": "voice on"}))  # one-line platforms
    openai_fake.queue(Reply("Still here in writing."))
    openai_fake.queue_for("speech", Error(500), Error(500), Error(500))

    reply = await say(chat, "talk")

    assert reply.text.startswith("Still here in writing.\n\n_") and reply.files == []
    assert reply.done is not None and reply.done.text == reply.text, "what was shown is what is stored"


async def test_speak_reads_the_last_answer(voiced: tuple[ChatService, CommandSet], openai_fake: FakeOpenAI) -> None:
    chat, commands = voiced
    assert (await commands.run("speak", CommandRequest(ALICE, PLACE))).text == NOTHING_TO_SAY
    openai_fake.queue(Reply("The answer to read."))
    await say(chat, "question")

    reply = await commands.run("speak", CommandRequest(ALICE, PLACE))

    assert [isinstance(f, OutgoingFile) and f.content_type.startswith("audio/") for f in reply.files] == [True]
    assert "The answer to read." in str(openai_fake.requests_to("/v1/audio/speech")[-1].json)
