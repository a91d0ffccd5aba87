"""The agents as the container builds them from settings, and the vision findings reaching the main model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.agents import build_agents
from bot.config import Settings
from core.agents.base import AgentRequest
from core.agents.wikipedia import WikipediaTool
from core.db.repositories import UserRecord
from core.llm import ModelFinished, ModelNames, ModelText, OpenAIModel, Usage
from core.media.safe_image import SafeImages
from core.toolloop.loop import LoopOutcome, ToolLoop
from core.tools.registry import ToolContext, ToolRegistry
from core.types import StatusUpdate
from tests.fakes.openai_server import PNG_BYTES, FakeOpenAI, Reply, ToolCalls
from tests.fakes.wikipedia_server import FakeWikipedia

USER = UserRecord(id=3, display_name="Grace", timezone="UTC", settings={})


@pytest.fixture
def wiki() -> Iterator[FakeWikipedia]:
    with FakeWikipedia() as fake:
        fake.add_article("Grace Hopper", "Grace Brewster Hopper was an American computer scientist.")
        yield fake


def settings_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def main_model(fake: FakeOpenAI) -> OpenAIModel:
    return OpenAIModel(api_key="sk-test", base_url=fake.base_url, models=ModelNames(), max_retries=0)


async def no_images(user_id: int, reference: str) -> bytes | None:
    return None


async def test_search_is_offered_only_when_configured(
    openai_fake: FakeOpenAI, wiki: FakeWikipedia, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = settings_for(monkeypatch, tmp_path, WIKIPEDIA_API_URL=wiki.api_url)
    with_search = settings_for(
        monkeypatch, tmp_path, SEARCH_BASE_URL=openai_fake.base_url, SEARCH_API_KEY="sk-test", SEARCH_MODEL="sonar"
    )

    without = build_agents(plain, main_model(openai_fake), no_images, images=SafeImages())
    offered = build_agents(with_search, main_model(openai_fake), no_images, images=SafeImages())

    assert not plain.search_configured and with_search.search_configured
    names = [t["function"]["name"] for t in ToolRegistry.of(without.tools).for_user(USER).schemas()]
    assert names == ["look_at_image", "wikipedia", "make_image"]
    names = [t["function"]["name"] for t in ToolRegistry.of(offered.tools).for_user(USER).schemas()]
    assert names == ["look_at_image", "wikipedia", "web_search", "make_image"]

    # The Wikipedia tool built from the settings speaks to the configured site with the configured agent.
    wikipedia = ToolRegistry.of(without.tools).tools["wikipedia"]
    assert isinstance(wikipedia, WikipediaTool)
    result = await wikipedia.client.lookup("Grace Hopper")
    assert "American computer scientist" in result.content
    assert {agent for _, _, agent in wiki.requests} == {plain.wikipedia_user_agent}
    await offered.close()


async def test_vision_findings_reach_the_main_model_as_a_flagged_tool_result(
    openai_fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_for(monkeypatch, tmp_path, VISION_MODEL="vision-test", CHAT_MODEL="chat-test")
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=settings.models, max_retries=0)
    agents = build_agents(settings, model, no_images, images=SafeImages())
    openai_fake.queue(Reply("A blue square, 8 by 8 pixels."), Reply("That is a small blue square."))

    findings = await agents.vision.handle(AgentRequest(text="what is this?", image=PNG_BYTES))
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "what is this?"},
        *findings.as_tool_messages("vision_1", "look_at_image", {"image": "attachment 1", "question": "what is this?"}),
    ]
    answer = [e async for e in model.stream_chat(messages)]

    vision_request, chat_request = openai_fake.chat_requests()
    assert vision_request["model"] == "vision-test"
    assert chat_request["model"] == "chat-test"
    assert chat_request["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "vision_1",
        "content": "[from the vision agent] A blue square, 8 by 8 pixels.",
    }
    assert [m["role"] for m in chat_request["messages"]].count("user") == 1  # findings are never user text
    assert "".join(e.text for e in answer if isinstance(e, ModelText)) == "That is a small blue square."
    assert isinstance(answer[-1], ModelFinished)
    assert findings.usage is not None


async def test_a_web_search_in_the_tool_loop_shows_its_status_links_and_usage(
    openai_fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_for(
        monkeypatch, tmp_path, SEARCH_BASE_URL=openai_fake.base_url, SEARCH_API_KEY="sk-test", SEARCH_MODEL="sonar"
    )
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=settings.models, max_retries=0)
    agents = build_agents(settings, model, no_images, images=SafeImages())
    openai_fake.queue(
        ToolCalls([("web_search", {"query": "Who won the 2026 Tour de France?"})], text="Let me check."),
        Reply("Tadej wins [1].", usage=(40, 4), extra={"citations": ["https://cycling.example/tdf"]}),
        Reply("Tadej won it, says https://cycling.example/tdf.", usage=(100, 7)),
    )
    context = ToolContext(
        user=USER, conversation_id=1, now=datetime(2026, 7, 28, 9, 0, tzinfo=UTC), timezone=ZoneInfo("UTC")
    )
    outcome = LoopOutcome()
    messages = [{"role": "user", "content": "Who won the Tour this year?"}]

    events = [e async for e in ToolLoop(model).run(messages, ToolRegistry.of(agents.tools), context, outcome)]

    assert StatusUpdate("Searching the web…") in events
    assert outcome.tool_results == [
        ("web_search", "[from the web search] Tadej wins [1].\n\nSources:\n[1] https://cycling.example/tdf")
    ]
    assert outcome.text == "Let me check.\n\nTadej won it, says https://cycling.example/tdf."
    assert [r["model"] for r in openai_fake.chat_requests()] == ["gpt-4o-mini", "sonar", "gpt-4o-mini"]
    # The main model's calls (6 + 10 for the tool call, 100 + 7 for the answer) plus the search model's (40 + 4).
    assert outcome.usage == Usage(6 + 40 + 100, 10 + 4 + 7)
    await agents.close()
