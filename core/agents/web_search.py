"""Web search: ask an OpenAI-compatible search model for current information, with its sources.

Perplexity's ``sonar`` models speak the OpenAI chat API and add ``citations``
(URLs) and ``search_results`` (title, url, date) to the response; the openai
client keeps both in ``model_extra``.  Off when ``SEARCH_BASE_URL`` or
``SEARCH_MODEL`` is unset: the tool is then not offered to the model.
"""

from __future__ import annotations

import logging
from typing import Any

from core.agents.base import AgentRequest, AgentResult, failure
from core.db.repositories import UserRecord
from core.llm import ModelError, ModelNames, OpenAIModel
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)

SOURCE = "web search"
SEARCH_PROMPT = (
    "Search the web and answer the question with current, factual information. Be concise; cite your sources."
)


def build_search_model(
    base_url: str, api_key: str, model: str, *, timeout: float = 60.0, max_retries: int = 2
) -> OpenAIModel | None:
    """The search endpoint's client, or None when search is not configured."""
    if not base_url.strip() or not model.strip():
        return None
    return OpenAIModel(
        api_key=api_key or "not-needed",
        base_url=base_url,
        models=ModelNames(chat=model),
        timeout=timeout,
        max_retries=max_retries,
    )


def links_of(extra: dict[str, Any]) -> list[str]:
    """The source URLs of a search answer, in citation order (``[1]`` is the first).

    ``citations`` keeps the numbering the answer refers to; ``search_results``
    adds titles, and stands in when there are no citations.
    """
    titles: dict[str, str] = {}
    ordered: list[str] = []
    for item in extra.get("search_results") or []:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            titles.setdefault(item["url"], str(item.get("title") or "").strip())
            ordered.append(item["url"])
    citations = [c for c in extra.get("citations") or [] if isinstance(c, str)]
    urls = list(dict.fromkeys(citations or ordered))
    return [f"{titles[url]} — {url}" if titles.get(url) else url for url in urls]


class WebSearchAgent:
    """Asks the search model one question; returns its answer with the sources as links."""

    source = SOURCE

    def __init__(self, model: OpenAIModel | None, *, timeout: float = 60.0) -> None:
        self.model = model
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        return self.model is not None

    async def handle(self, request: AgentRequest) -> AgentResult:
        """Search for ``request.query`` (or ``request.text``). Never raises."""
        question = (request.query or request.text).strip()
        if self.model is None:
            return failure(SOURCE, "web search is not configured (SEARCH_BASE_URL, SEARCH_MODEL).")
        if not question:
            return failure(SOURCE, "there is no question to search for.")
        messages = [{"role": "system", "content": SEARCH_PROMPT}, {"role": "user", "content": question}]
        try:
            completion = await self.model.complete(messages, timeout=self.timeout)
        except ModelError as exc:
            log.warning("web search failed: %s", exc)
            return failure(SOURCE, f"the search service failed. {exc.user_message}")
        if not completion.text.strip():
            return failure(SOURCE, "the search service returned no answer.", completion.usage)
        return AgentResult(SOURCE, completion.text.strip(), links=links_of(completion.extra), usage=completion.usage)


class WebSearchTool(ToolBase):
    """The ``web_search`` tool, offered only when a search endpoint is configured."""

    name = "web_search"
    description = (
        "Search the web for current information (news, prices, opening hours, recent events) and get an answer "
        "with its sources. Show the sources to the user as links."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "The question to search for, self-contained."}},
        "required": ["query"],
    }
    status = "Searching the web…"
    quota = "web_searches"

    def __init__(self, agent: WebSearchAgent) -> None:
        self.agent = agent

    def available_for(self, user: UserRecord) -> bool:
        return self.agent.configured

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolInputError("say what to search for ('query').")
        result = await self.agent.handle(AgentRequest(query=query[:1000]))
        return result.as_tool_result()
