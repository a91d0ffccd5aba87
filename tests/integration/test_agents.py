"""The agents (vision, Wikipedia, web search, images) through the real clients against loopback fakes.

Each tool is run the way the model/tool loop runs it: a :class:`ToolCall` through the
:class:`ToolRegistry`, so what the test reads is exactly what the main model receives.
"""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from core.agents.images import MakeImageTool
from core.agents.vision import LookAtImageTool, VisionAgent
from core.agents.web_search import WebSearchAgent, WebSearchTool, build_search_model
from core.agents.wikipedia import WikipediaClient, WikipediaTool
from core.db.repositories import UserRecord
from core.llm import ModelNames, OpenAIModel, ToolCall
from core.media.safe_image import SafeImages
from core.tools.registry import ToolBase, ToolContext, ToolRegistry, ToolResult
from tests.fakes.openai_server import PNG_BYTES, Error, FakeOpenAI, Hang, Reply
from tests.fakes.wikipedia_server import FakeWikipedia

USER = UserRecord(id=7, display_name="Ada", timezone="UTC", settings={})
CONTEXT = ToolContext(
    user=USER, conversation_id=1, now=datetime(2026, 3, 4, 9, 30, tzinfo=UTC), timezone=ZoneInfo("UTC")
)
UA = "CaptainsLog/0.1 (test suite; ops@example.org)"


def make_model(fake: FakeOpenAI, **kwargs: Any) -> OpenAIModel:
    kwargs.setdefault("max_retries", 0)
    return OpenAIModel(
        api_key="sk-test",
        base_url=fake.base_url,
        models=ModelNames(chat="chat-test", vision="vision-test", image="image-test"),
        **kwargs,
    )


async def run_tool(tool: ToolBase, **arguments: Any) -> ToolResult:
    """Run ``tool`` as the model/tool loop does: a call by name through the registry."""
    call = ToolCall("call_1", tool.name, json.dumps(arguments))
    return await ToolRegistry.of([tool]).run(call, CONTEXT)


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def decode_data_url(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    return head, base64.b64decode(payload)


# -- vision ---------------------------------------------------------------------------------


async def test_the_vision_model_receives_the_image_and_the_words(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("A monstera deliciosa (Swiss cheese plant), fairly sure.", usage=(812, 11)))
    result = await VisionAgent(make_model(openai_fake), images=SafeImages()).look(PNG_BYTES, "what plant is this?")

    assert result.flagged() == "[from the vision agent] A monstera deliciosa (Swiss cheese plant), fairly sure."
    assert not result.is_error
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (812, 11)
    [(words, [url])] = openai_fake.images_sent()
    assert words == "what plant is this?"
    assert decode_data_url(url) == ("data:image/png;base64", PNG_BYTES)
    assert openai_fake.chat_requests()[0]["model"] == "vision-test"


async def test_an_image_without_words_is_described(openai_fake: FakeOpenAI) -> None:
    await VisionAgent(make_model(openai_fake), images=SafeImages()).look(PNG_BYTES, "  ")
    [(words, _)] = openai_fake.images_sent()
    assert "without a message" in words


async def test_a_large_photo_is_downscaled_before_it_is_sent(openai_fake: FakeOpenAI) -> None:
    agent = VisionAgent(make_model(openai_fake), images=SafeImages(), max_side=1024)
    await agent.look(jpeg(4000, 3000), "read the receipt")
    [(_, [url])] = openai_fake.images_sent()
    head, data = decode_data_url(url)
    assert head == "data:image/jpeg;base64"
    assert Image.open(io.BytesIO(data)).size == (1024, 768)


async def test_a_file_that_is_not_an_image_never_reaches_the_model(openai_fake: FakeOpenAI) -> None:
    agent = VisionAgent(make_model(openai_fake), images=SafeImages())
    result = await agent.look(b"%PDF-1.7 not a picture", "what is this?")
    assert result.is_error
    assert result.flagged() == "[from the vision agent] Error: That file is not an image I can read."
    assert openai_fake.chat_requests() == []


async def test_a_failing_vision_model_gives_a_short_error_result(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Error(500))
    result = await VisionAgent(make_model(openai_fake), images=SafeImages()).look(PNG_BYTES, "what is this?")
    assert result.is_error
    assert result.content == (
        "Error: could not look at the image. The model service failed (HTTP 500); try again shortly."
    )


async def test_a_vision_model_that_takes_too_long_is_given_up(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Hang(5))
    agent = VisionAgent(make_model(openai_fake), images=SafeImages(), timeout=0.2)
    result = await agent.look(PNG_BYTES, "what is this?")
    assert result.is_error
    assert result.content == "Error: could not look at the image. The model service took too long to answer."


async def test_the_model_can_look_again_at_a_stored_image(openai_fake: FakeOpenAI) -> None:
    stored = {(7, "photo of 09:12"): PNG_BYTES}
    asked: list[tuple[int, str]] = []

    async def loader(user_id: int, reference: str) -> bytes | None:
        asked.append((user_id, reference))
        return stored.get((user_id, reference))

    tool = LookAtImageTool(VisionAgent(make_model(openai_fake), images=SafeImages()), loader)
    openai_fake.queue(Reply("The receipt total is 12.40 EUR."))

    found = await run_tool(tool, image="photo of 09:12", question="what was the total?")
    missing = await run_tool(tool, image="photo of yesterday", question="what was the total?")

    assert found.content == "[from the vision agent] The receipt total is 12.40 EUR."
    assert not found.is_error
    assert missing.is_error
    assert missing.content == "Error: there is no stored image 'photo of yesterday' for this user."
    assert asked == [(7, "photo of 09:12"), (7, "photo of yesterday")]
    assert [words for words, _ in openai_fake.images_sent()] == ["what was the total?"]
    assert tool.status == "Looking at the image…"


# -- Wikipedia --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _wiki_server() -> Iterator[FakeWikipedia]:
    with FakeWikipedia() as fake:
        yield fake


@pytest.fixture
def wiki(_wiki_server: FakeWikipedia) -> FakeWikipedia:
    _wiki_server.reset()
    _wiki_server.add_article(
        "Ada Lovelace",
        "Augusta Ada King, Countess of Lovelace, was an English mathematician and writer.",
        description="English mathematician (1815–1852)",
    )
    _wiki_server.add_article("Mercury", "Mercury may refer to: a planet, an element, a god.", kind="disambiguation")
    _wiki_server.add_article("Mercury (planet)", "Mercury is the first planet from the Sun.", description="Planet")
    _wiki_server.add_article("Lune", "La Lune est l'unique satellite naturel de la Terre.", lang="fr")
    return _wiki_server


def wikipedia_tool(wiki: FakeWikipedia, **kwargs: Any) -> WikipediaTool:
    kwargs.setdefault("user_agent", UA)
    return WikipediaTool(WikipediaClient(wiki.api_url, **kwargs))


async def test_wikipedia_returns_the_summary_and_the_link(wiki: FakeWikipedia) -> None:
    result = await run_tool(wikipedia_tool(wiki), query="Ada Lovelace")

    assert result.content == (
        "[from the Wikipedia] Ada Lovelace — English mathematician (1815–1852)\n\n"
        "Augusta Ada King, Countess of Lovelace, was an English mathematician and writer.\n\n"
        "Sources:\n[1] https://en.wikipedia.org/wiki/Ada_Lovelace"
    )
    assert result.links == ("https://en.wikipedia.org/wiki/Ada_Lovelace",)
    search, summary = wiki.requests
    assert search[0] == "/en/w/api.php" and search[1]["srsearch"] == "Ada Lovelace"
    assert summary[0] == "/en/api/rest_v1/page/summary/Ada_Lovelace"
    assert {agent for _, _, agent in wiki.requests} == {UA}


async def test_wikipedia_skips_a_disambiguation_page(wiki: FakeWikipedia) -> None:
    result = await run_tool(wikipedia_tool(wiki), query="Mercury")
    assert "Mercury is the first planet from the Sun." in result.content
    assert "Other matching articles: Mercury" in result.content
    assert result.links == ("https://en.wikipedia.org/wiki/Mercury_(planet)",)
    assert [path for path, _, _ in wiki.requests[1:]] == [
        "/en/api/rest_v1/page/summary/Mercury",
        "/en/api/rest_v1/page/summary/Mercury_(planet)",
    ]


async def test_wikipedia_in_another_language(wiki: FakeWikipedia) -> None:
    result = await run_tool(wikipedia_tool(wiki), query="Lune", language="fr")
    assert "l'unique satellite naturel" in result.content
    assert result.links == ("https://fr.wikipedia.org/wiki/Lune",)
    assert {path.split("/")[1] for path, _, _ in wiki.requests} == {"fr"}


async def test_wikipedia_says_when_nothing_matches(wiki: FakeWikipedia) -> None:
    result = await run_tool(wikipedia_tool(wiki), query="zyzzyva quux")
    assert result.content == "[from the Wikipedia] No Wikipedia article matches 'zyzzyva quux'."
    assert not result.is_error


async def test_wikipedia_refuses_a_library_user_agent(wiki: FakeWikipedia) -> None:
    result = await run_tool(wikipedia_tool(wiki, user_agent="Python/3.11 aiohttp/3.14"), query="Ada Lovelace")
    assert result.is_error
    assert result.content == "[from the Wikipedia] Error: Wikipedia failed (HTTP 403)."


async def test_wikipedia_failures_are_short_error_results(wiki: FakeWikipedia) -> None:
    wiki.fail_next(500)
    failed = await run_tool(wikipedia_tool(wiki), query="Ada Lovelace")
    wiki.hang_next(3)
    slow = await run_tool(wikipedia_tool(wiki, timeout=0.2), query="Ada Lovelace")
    bad_language = await run_tool(wikipedia_tool(wiki), query="Ada", language="../etc")

    assert failed.is_error and failed.content == "[from the Wikipedia] Error: Wikipedia failed (HTTP 500)."
    assert slow.is_error and slow.content == "[from the Wikipedia] Error: Wikipedia took too long to answer."
    assert bad_language.is_error
    assert bad_language.content == "Error: '../etc' is not a Wikipedia language code such as 'en' or 'fr'."


async def test_wikipedia_that_cannot_be_reached(wiki: FakeWikipedia) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = await run_tool(WikipediaTool(WikipediaClient(closed, user_agent=UA)), query="Ada Lovelace")
    assert result.content == "[from the Wikipedia] Error: Wikipedia cannot be reached right now."


# -- web search -------------------------------------------------------------------------------

SONAR_EXTRA = {
    "citations": ["https://weather.example/paris", "https://news.example/heat"],
    "search_results": [
        {"title": "Paris weather today", "url": "https://weather.example/paris", "date": "2026-03-04"},
        {"title": "Heat wave news", "url": "https://news.example/heat"},
    ],
}


def search_tool(fake: FakeOpenAI, base_url: str | None = None, **kwargs: Any) -> WebSearchTool:
    model = build_search_model(fake.base_url if base_url is None else base_url, "sk-test", "sonar", max_retries=0)
    return WebSearchTool(WebSearchAgent(model, **kwargs))


async def test_web_search_returns_the_answer_with_its_sources(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("It is 18 °C and sunny in Paris [1], warmer than usual [2].", extra=SONAR_EXTRA))
    tool = search_tool(openai_fake)

    result = await run_tool(tool, query="weather in Paris today")

    assert result.content == (
        "[from the web search] It is 18 °C and sunny in Paris [1], warmer than usual [2].\n\n"
        "Sources:\n[1] Paris weather today — https://weather.example/paris\n"
        "[2] Heat wave news — https://news.example/heat"
    )
    assert result.links == (
        "Paris weather today — https://weather.example/paris",
        "Heat wave news — https://news.example/heat",
    )
    assert result.usage is not None
    [request] = openai_fake.chat_requests()
    assert request["model"] == "sonar"
    assert request["messages"][-1] == {"role": "user", "content": "weather in Paris today"}
    assert tool.status == "Searching the web…"
    assert tool.available_for(USER)


async def test_web_search_is_not_offered_when_unset(openai_fake: FakeOpenAI) -> None:
    tool = search_tool(openai_fake, base_url="")
    assert build_search_model("", "sk", "sonar") is None
    assert not tool.available_for(USER)
    assert ToolRegistry.of([tool]).for_user(USER).schemas() == []
    # Called anyway (a stale tool list), it answers with a short error, not a crash.
    result = await run_tool(tool, query="news")
    assert result.is_error
    assert result.content == (
        "[from the web search] Error: web search is not configured (SEARCH_BASE_URL, SEARCH_MODEL)."
    )
    assert openai_fake.requests == []


async def test_web_search_failures_are_short_error_results(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Error(500), Hang(5))
    failed = await run_tool(search_tool(openai_fake), query="news")
    slow = await run_tool(search_tool(openai_fake, timeout=0.2), query="news")

    assert failed.is_error
    assert failed.content == (
        "[from the web search] Error: the search service failed. "
        "The model service failed (HTTP 500); try again shortly."
    )
    assert slow.is_error
    assert slow.content.endswith("The model service took too long to answer.")


# -- images on request ------------------------------------------------------------------------


async def test_the_image_tool_returns_a_picture_to_post(openai_fake: FakeOpenAI) -> None:
    result = await run_tool(MakeImageTool(make_model(openai_fake)), prompt="a lighthouse at dusk, watercolour")

    assert not result.is_error
    assert result.content == "[from the image tool] The picture was made and is posted to the user with your answer."
    [picture] = result.files
    assert (picture.filename, picture.content_type, picture.data) == ("image.png", "image/png", PNG_BYTES)
    [request] = openai_fake.requests_to("/v1/images/generations")
    assert request.json["prompt"] == "a lighthouse at dusk, watercolour"
    assert request.json["model"] == "image-test"


async def test_the_image_tool_failures(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue_for("images", Error(500), Hang(5))
    failed = await run_tool(MakeImageTool(make_model(openai_fake)), prompt="a cat")
    slow = await run_tool(MakeImageTool(make_model(openai_fake, timeout=0.2)), prompt="a cat")
    empty = await run_tool(MakeImageTool(make_model(openai_fake)), prompt="  ")

    assert failed.is_error and failed.files == ()
    assert failed.content == (
        "[from the image tool] Error: no picture was made. The model service failed (HTTP 500); try again shortly."
    )
    assert empty.is_error and empty.content == "Error: describe the picture to make ('prompt')."
    assert slow.is_error and slow.files == ()
    assert slow.content == (
        "[from the image tool] Error: no picture was made. The model service took too long to answer."
    )
