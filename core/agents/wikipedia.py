"""Wikipedia: search with the MediaWiki API, then return the best article's summary and link.

``api_url`` may contain ``{lang}`` (the default ``https://{lang}.wikipedia.org``),
filled with the configured language or the one the model asks for.  Requests
carry a descriptive User-Agent, as Wikipedia's policy asks.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

import aiohttp

from core.agents.base import AgentResult, failure
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)

SOURCE = "Wikipedia"
DEFAULT_API_URL = "https://{lang}.wikipedia.org"
# Wikipedia asks for a way to reach the operator: WIKIPEDIA_USER_AGENT can add a URL or e-mail address.
DEFAULT_USER_AGENT = "CaptainsLog/0.1 (self-hosted personal assistant bot; python-aiohttp)"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2,8})*$")
_CANDIDATES = 3


class WikipediaError(Exception):
    """Wikipedia could not be asked; the message is a short sentence for the main model."""


class WikipediaClient:
    """Search and summary calls against one MediaWiki site (or one per language)."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        language: str = "en",
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.language = language
        self.user_agent = user_agent
        self.timeout = timeout

    def base_for(self, language: str | None) -> str:
        return self.api_url.replace("{lang}", language or self.language)

    async def lookup(self, query: str, language: str | None = None) -> AgentResult:
        """The summary of the best article for ``query``, with its link. Never raises."""
        base = self.base_for(language)
        try:
            async with aiohttp.ClientSession(
                headers={"User-Agent": self.user_agent, "Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as session:
                titles = await self._search(session, base, query)
                if not titles:
                    return AgentResult(SOURCE, f"No Wikipedia article matches {query!r}.")
                first: dict[str, Any] | None = None
                for title in titles:
                    summary = await self._summary(session, base, title)
                    if summary is not None and summary.get("type") != "disambiguation":
                        return _result(summary, title, [t for t in titles if t != title])
                    first = first or summary
                return _result(first or {}, titles[0], titles[1:])
        except WikipediaError as exc:
            return failure(SOURCE, str(exc))
        except TimeoutError:
            log.warning("wikipedia timed out after %ss", self.timeout)
            return failure(SOURCE, "Wikipedia took too long to answer.")
        except aiohttp.ClientError as exc:
            log.warning("wikipedia unreachable: %s", type(exc).__name__)
            return failure(SOURCE, "Wikipedia cannot be reached right now.")

    async def _get(self, session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None) -> Any:
        async with session.get(url, params=params) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                log.warning("wikipedia answered HTTP %s for %s", response.status, url)
                raise WikipediaError(f"Wikipedia failed (HTTP {response.status}).")
            try:
                return await response.json(content_type=None)
            except ValueError as exc:
                raise WikipediaError("Wikipedia sent an answer that is not JSON.") from exc

    async def _search(self, session: aiohttp.ClientSession, base: str, query: str) -> list[str]:
        params = {
            "action": "query",
            "list": "search",
            "srsearch": query,
            "srlimit": str(_CANDIDATES),
            "format": "json",
            "utf8": "1",
        }
        body = await self._get(session, f"{base}/w/api.php", params)
        hits = ((body or {}).get("query") or {}).get("search") or []
        return [hit["title"] for hit in hits if isinstance(hit, dict) and hit.get("title")]

    async def _summary(self, session: aiohttp.ClientSession, base: str, title: str) -> dict[str, Any] | None:
        path = quote(title.replace(" ", "_"), safe="")
        body = await self._get(session, f"{base}/api/rest_v1/page/summary/{path}")
        return body if isinstance(body, dict) else None


def _result(summary: dict[str, Any], title: str, others: list[str]) -> AgentResult:
    heading = summary.get("title") or title
    description = summary.get("description") or ""
    extract = (summary.get("extract") or "").strip() or "(The article has no summary.)"
    link = ((summary.get("content_urls") or {}).get("desktop") or {}).get("page") or ""
    text = f"{heading}" + (f" — {description}" if description else "") + f"\n\n{extract}"
    if others:
        text += "\n\nOther matching articles: " + ", ".join(others)
    return AgentResult(SOURCE, text, links=[link] if link else [])


class WikipediaTool(ToolBase):
    """The ``wikipedia`` tool: the summary of the best matching article and its link."""

    name = "wikipedia"
    description = (
        "Search Wikipedia and get the summary of the best matching article with its link. "
        "Good for facts about people, places, history, science and definitions."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look up, e.g. 'Ada Lovelace'."},
            "language": {"type": "string", "description": "Wikipedia language code, e.g. 'en', 'fr'. Optional."},
        },
        "required": ["query"],
    }
    status = "Looking it up on Wikipedia…"

    def __init__(self, client: WikipediaClient) -> None:
        self.client = client

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolInputError("say what to look up ('query').")
        language = str(arguments.get("language") or "").strip().lower() or None
        if language is not None and not _LANGUAGE.match(language):
            raise ToolInputError(f"{language!r} is not a Wikipedia language code such as 'en' or 'fr'.")
        result = await self.client.lookup(query[:300], language)
        return result.as_tool_result()
