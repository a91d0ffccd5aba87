"""Images and voice in a turn: the vision agent describes, the main model answers from flagged findings, the
image is kept and can be looked at again; a voice message is transcribed and answered. Real openai client
against the fake, both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.agents.vision import LookAtImageTool, VisionAgent
from core.chat import ChatService
from core.chat.media import MediaReader
from core.db.database import Database
from core.db.models import Message
from core.db.models_files import StoredFile
from core.db.repositories import MessageRepository
from core.llm import ModelNames, OpenAIModel
from core.media.files import StoredFiles
from core.media.safe_image import SafeImages
from core.media.voice import Transcriber
from core.tools.registry import ToolRegistry
from core.types import Attachment, AttachmentKind
from tests.chat_helpers import say
from tests.conftest import builtin_tools_for_tests, make_chat_service
from tests.fakes.openai_server import PNG_BYTES, FakeOpenAI, Reply, ToolCalls

PHOTO = Attachment(AttachmentKind.IMAGE, "plant.png", "image/png", PNG_BYTES)
VOICE = Attachment(AttachmentKind.AUDIO, "voice-message.ogg", "audio/ogg", b"OggS" + b"\x00" * 64)


@pytest.fixture
async def vision_model(openai_fake: FakeOpenAI) -> Any:
    model = OpenAIModel(
        api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(vision="vision-test"), max_retries=0
    )
    yield model
    await model.close()


@pytest.fixture
def media_chat(database: Database, model: OpenAIModel, vision_model: OpenAIModel) -> ChatService:
    files = StoredFiles(database)
    vision = VisionAgent(vision_model, images=SafeImages())
    chat = make_chat_service(
        database, model, tools=ToolRegistry.of([*builtin_tools_for_tests(), LookAtImageTool(vision, files.load_image)])
    )
    chat.runner.media = MediaReader(
        files=files,
        transcriber=Transcriber(vision_model),
        vision=vision,
        messages=MessageRepository(database),
        counter=chat.counter,
    )
    return chat


def vision_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake.chat_requests() if r.get("model") == "vision-test"]


def answer_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake.chat_requests() if r.get("model") != "vision-test"]


async def test_an_image_is_described_by_the_vision_agent_and_answered_from_its_findings(
    media_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(
        Reply("A young monstera with split leaves.", usage=(800, 9)), Reply("It's a monstera.", usage=(50, 4))
    )

    reply = await say(media_chat, "what plant is this?", attachments=(PHOTO,))

    assert reply.text == "It's a monstera."
    assert "Looking at the image…" in reply.statuses
    (look,) = vision_requests(openai_fake)
    assert "what plant is this?" in str(look["messages"]) and "data:image/" in str(look["messages"])
    main = answer_requests(openai_fake)[-1]
    assert "image_url" not in str(main["messages"]), "the chat model does not need to accept images"
    user_message = main["messages"][-1]["content"]
    assert "[from the vision agent] A young monstera with split leaves." in user_message
    async with database.session() as session:
        stored = (await session.scalars(select(StoredFile))).all()
        answer = (await session.scalars(select(Message).where(Message.role == "assistant"))).one()
    assert [(f.filename, f.data) for f in stored] == [("plant.png", PNG_BYTES)]
    assert (answer.prompt_tokens, answer.completion_tokens) == (850, 13), "the vision call's usage is counted"

    # Later: answered from the stored findings, no second look.
    openai_fake.queue(Reply("The monstera, as I said."))
    await say(media_chat, "what was that plant again?")
    assert len(vision_requests(openai_fake)) == 1
    assert "A young monstera with split leaves." in str(answer_requests(openai_fake)[-1]["messages"])


async def test_the_model_can_look_at_a_stored_image_again(
    media_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("A receipt."), Reply("That is a receipt."))
    await say(media_chat, "keep this", attachments=(PHOTO,))
    async with database.session() as session:
        file_id = (await session.scalars(select(StoredFile.id))).one()

    openai_fake.queue(
        ToolCalls([("look_at_image", {"image": f"image {file_id}", "question": "what is the total?"})]),
        Reply("The total is 12.50, total 12.50.", usage=(10, 5)),
        Reply("The total was 12.50."),
    )
    reply = await say(media_chat, "look at the photo I sent this morning again: what is the total?")

    assert reply.text == "The total was 12.50."
    second_look = vision_requests(openai_fake)[-1]
    assert "what is the total?" in str(second_look["messages"]) and "data:image/" in str(second_look["messages"])


async def test_a_voice_message_is_transcribed_shown_and_answered(
    media_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.transcription_text = "remind me to water the plants"
    openai_fake.queue(Reply("I'll remind you."))

    reply = await say(media_chat, "", attachments=(VOICE,))

    assert reply.text == "_I heard: “remind me to water the plants”_\n\nI'll remind you."
    assert answer_requests(openai_fake)[-1]["messages"][-1]["content"].split("\n")[1] == "remind me to water the plants"
    async with database.session() as session:
        user = (await session.scalars(select(Message).where(Message.role == "user"))).one()
    assert user.content == "remind me to water the plants"
    assert any(a.get("spoken") for a in user.attachments)


async def test_a_recording_that_cannot_be_heard_gets_a_clear_line_and_no_model_call(
    media_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    odd = Attachment(AttachmentKind.AUDIO, "memo.amr", "audio/amr", b"#!AMR")

    reply = await say(media_chat, "", attachments=(odd,))

    assert reply.error is not None and "can't listen to memo.amr" in reply.error
    assert answer_requests(openai_fake) == []
    async with database.session() as session:
        stored = (await session.scalars(select(Message).order_by(Message.id))).all()
    assert [m.role for m in stored] == ["user", "assistant"], "the message is kept, nothing lost"
