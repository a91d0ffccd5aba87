"""Image decompression bombs (issue 18): refused from the header on every path, with a clear line, in little memory.

The memory figures come from a child process that runs the real path (``tests/bomb_child.py``)
and reports its own peak resident memory; the bomb is the issue's: a 396 KiB PNG of
9,950 × 9,950 RGBA pixels (396 MB once decoded). Before the fix each one was decoded
(1.7 GiB for one, the whole machine for ten).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.agents.vision import LookAtImageTool, VisionAgent
from core.chat import ChatService
from core.chat.media import MediaReader
from core.db.database import Database
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
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.image_bombs import bomb, solid_png

ROOT = Path(__file__).resolve().parents[2]
PEAK_MB = 300
REFUSAL = "the image is too large to read (99 megapixels; I read images up to 40 megapixels)."


def run_child(tmp_path: Path, data: bytes, count: int, base_url: str, mode: str) -> dict[str, Any]:
    """Run one real image path in a fresh process on ``count`` copies of ``data``; its report."""
    path = tmp_path / "image.png"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-m", "tests.bomb_child", str(path), str(count), base_url, mode],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ten_bombs_in_one_message_each_get_a_clear_line_in_little_memory(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    report = run_child(tmp_path, bomb(), 10, openai_fake.base_url, "attachments")

    assert report["notices"] == [f"I couldn't look at bomb{n}.png: {REFUSAL}" for n in range(10)]
    assert all("too large to read" in finding for finding in report["findings"])
    assert openai_fake.chat_requests() == [], "nothing was sent to the vision model"
    assert report["peak_mb"] < PEAK_MB, report["peak_mb"]


def test_looking_again_at_ten_bombs_at_once_refuses_each_in_little_memory(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    report = run_child(tmp_path, bomb(), 10, openai_fake.base_url, "look")

    assert report["results"] == ["[from the vision agent] Error: The image is too large to read "
                                 "(99 megapixels; I read images up to 40 megapixels)."] * 10  # fmt: skip
    assert openai_fake.chat_requests() == []
    assert report["peak_mb"] < PEAK_MB, report["peak_mb"]


def test_the_daily_pdf_of_a_day_with_ten_bombs_renders_with_their_names_in_little_memory(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    report = run_child(tmp_path, bomb(), 10, openai_fake.base_url, "pdf")

    assert "12:00 Ada\nlook" in report["pdf_text"]
    assert all(f"{n}-bomb.png" in report["pdf_text"] for n in range(10)), "each refused image is named"
    assert report["peak_mb"] < PEAK_MB, report["peak_mb"]


def test_large_images_under_the_limit_are_read_one_at_a_time(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    # 6,300² RGBA: 39.7 megapixels, 160 MB decoded. Four decoded at once would take over 640 MB.
    openai_fake.queue(*(Reply(f"A dark blue square ({n}).") for n in range(4)))

    report = run_child(tmp_path, solid_png(6_300, 6_300), 4, openai_fake.base_url, "attachments")

    assert report["notices"] == []
    assert sorted(report["findings"]) == [f"A dark blue square ({n})." for n in range(4)]
    looked = [r for r in openai_fake.chat_requests() if r.get("model") == "vision-test"]
    assert len(looked) == 4 and all("data:image/png;base64," in str(r["messages"]) for r in looked)
    assert report["peak_mb"] < 500, report["peak_mb"]


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


async def test_a_bomb_in_a_conversation_is_kept_refused_with_a_line_and_refused_again_when_looked_at(
    media_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("I could not see that picture; could you send a smaller one?"))

    photo = Attachment(AttachmentKind.IMAGE, "bomb.png", "image/png", bomb())
    reply = await say(media_chat, "what is this?", attachments=(photo,))

    assert reply.text == (
        f"_I couldn't look at bomb.png: {REFUSAL}_\n\nI could not see that picture; could you send a smaller one?"
    )
    assert [r.get("model") for r in openai_fake.chat_requests()] == [media_chat.model.models.chat]
    async with database.session() as session:
        file_id = (await session.scalars(select(StoredFile.id))).one()  # kept: nothing the user sent is lost

    openai_fake.queue(
        ToolCalls([("look_at_image", {"image": f"image {file_id}", "question": "what is it?"})]),
        Reply("It is still too large for me."),
    )
    again = await say(media_chat, "look at it again")

    assert again.text == "It is still too large for me."
    tool_answer = openai_fake.chat_requests()[-1]["messages"][-1]
    assert tool_answer["role"] == "tool" and "The image is too large to read (99 megapixels" in tool_answer["content"]
    assert not [r for r in openai_fake.chat_requests() if r.get("model") == "vision-test"]
