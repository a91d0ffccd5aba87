"""Builds the agents, their tools and the voice services from the settings.

``bot/container.py`` calls :func:`build_agents` once and hands ``tools`` to the
tool registry and the rest to the turn; nothing here is a global.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from core.agents.images import MakeImageTool
from core.agents.vision import ImageLoader, LookAtImageTool, VisionAgent
from core.agents.web_search import WebSearchAgent, WebSearchTool, build_search_model
from core.agents.wikipedia import WikipediaClient, WikipediaTool
from core.features import FeatureContext, FeatureParts
from core.llm import OpenAIModel
from core.media.safe_image import SafeImages
from core.media.voice import Speaker, Transcriber
from core.tools.registry import ToolBase


@dataclass(frozen=True)
class Agents:
    """Every agent and media service of the process, built once."""

    vision: VisionAgent
    web_search: WebSearchAgent
    transcriber: Transcriber
    speaker: Speaker
    tools: tuple[ToolBase, ...]

    async def close(self) -> None:
        """Close the search endpoint's client (the main model is closed by its owner)."""
        if self.web_search.model is not None:
            await self.web_search.model.close()


def build_agents(
    settings: Settings,
    model: OpenAIModel,
    image_loader: ImageLoader,
    *,
    images: SafeImages,
) -> Agents:
    """The agents on ``model`` (the main endpoint) and the search endpoint, as the settings say.

    ``image_loader(user_id, reference)`` returns a stored image's bytes for ``look_at_image``;
    ``images`` is the process's one safe image opener (its decode gate shared with the daily PDF).
    """
    timeout = settings.agent_timeout
    vision = VisionAgent(model, images=images, timeout=timeout)
    search_key = settings.search_api_key.get_secret_value() if settings.search_api_key else ""
    search_model = (
        build_search_model(
            settings.search_base_url,
            search_key,
            settings.search_model,
            timeout=timeout,
            max_retries=settings.openai_max_retries,
        )
        if settings.search_configured
        else None
    )
    web_search = WebSearchAgent(search_model, timeout=timeout)
    wikipedia = WikipediaClient(
        settings.wikipedia_api_url,
        language=settings.wikipedia_language,
        user_agent=settings.wikipedia_user_agent,
        timeout=min(timeout, 20.0),
    )
    tools: tuple[ToolBase, ...] = (
        LookAtImageTool(vision, image_loader),
        WikipediaTool(wikipedia),
        WebSearchTool(web_search),
        MakeImageTool(model),
    )
    return Agents(
        vision=vision,
        web_search=web_search,
        transcriber=Transcriber(model, timeout=timeout),
        speaker=Speaker(model, voice=settings.speech_voice, timeout=timeout),
        tools=tools,
    )


class AgentTools:
    """The agents as a feature unit: their tools (vision, Wikipedia, web search, images). The agents themselves
    are built first (:func:`build_agents`): the turn reads images and speaks through them too."""

    name = "agents"

    def __init__(self, agents: Agents) -> None:
        self.agents = agents

    def install(self, context: FeatureContext) -> FeatureParts:
        return FeatureParts(tools=self.agents.tools)
