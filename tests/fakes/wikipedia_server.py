"""A MediaWiki fake on loopback: search (``/w/api.php``) and page summaries (``/api/rest_v1``).

Serve articles added with :meth:`FakeWikipedia.add_article`::

    with FakeWikipedia() as wiki:
        wiki.add_article("Ada Lovelace", "English mathematician ...", description="Mathematician")
        client = WikipediaClient(wiki.api_url)   # "http://127.0.0.1:P/{lang}"

Languages live under a path prefix (``/en/w/api.php``), since loopback has no
``en.wikipedia.org``; the links in summaries are the real-looking
``https://{lang}.wikipedia.org/wiki/...``.  Like Wikipedia, the fake refuses
(403) requests without a descriptive User-Agent: none, or a library's default.
``fail_next(status)`` and ``hang_next(seconds)`` script failures; every request
is recorded in ``requests`` as ``(path, query, user_agent)``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.fakes.base import ThreadedServer

_LIBRARY_AGENTS = ("python/", "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "go-http-client")


@dataclass
class Article:
    title: str
    extract: str
    description: str = ""
    kind: str = "standard"


def descriptive(user_agent: str) -> bool:
    """A bot's User-Agent in Wikipedia's sense: a name of its own, not a bare library default."""
    lowered = user_agent.strip().lower()
    return bool(lowered) and not lowered.startswith(_LIBRARY_AGENTS)


class FakeWikipedia(ThreadedServer):
    """MediaWiki search and REST summaries for the articles the test adds."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.articles: dict[tuple[str, str], Article] = {}
        self.requests: list[tuple[str, dict[str, str], str]] = []
        self._failures: list[int] = []
        self._hangs: list[float] = []
        self._sleeping: set[asyncio.Task[Any]] = set()

    @property
    def api_url(self) -> str:
        """The ``WIKIPEDIA_API_URL`` for this fake, with the ``{lang}`` placeholder."""
        return f"{self.url}/{{lang}}"

    def add_article(
        self, title: str, extract: str, *, description: str = "", lang: str = "en", kind: str = "standard"
    ) -> None:
        with self._lock:
            self.articles[(lang, title)] = Article(title, extract, description, kind)

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with HTTP ``status``."""
        with self._lock:
            self._failures.extend([status] * times)

    def hang_next(self, seconds: float) -> None:
        """Sleep ``seconds`` before answering the next request."""
        with self._lock:
            self._hangs.append(seconds)

    def reset(self) -> None:
        with self._lock:
            self.articles.clear()
            self.requests.clear()
            self._failures.clear()
            self._hangs.clear()

    async def _shutdown(self) -> None:
        # A handler still sleeping in hang_next would hold up cleanup for its grace period.
        for task in list(self._sleeping):
            task.cancel()
        await super()._shutdown()

    # -- app ---------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/{lang}/w/api.php", self._api)
        app.router.add_get("/{lang}/api/rest_v1/page/summary/{title}", self._summary)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        agent = request.headers.get("User-Agent", "")
        with self._lock:
            self.requests.append((request.path, dict(request.query), agent))
            status = self._failures.pop(0) if self._failures else None
            hang = self._hangs.pop(0) if self._hangs else 0.0
        if hang:
            task = asyncio.current_task()
            assert task is not None
            self._sleeping.add(task)
            try:
                await asyncio.sleep(hang)
            finally:
                self._sleeping.discard(task)
        if not descriptive(agent):
            return web.Response(
                status=403,
                text="Please set a user-agent and respect our robot policy https://w.wiki/4wJS.",
                content_type="text/plain",
            )
        if status is not None:
            return web.json_response({"error": "simulated failure"}, status=status)
        return await handler(request)

    async def _api(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("action") != "query" or query.get("list") != "search" or query.get("format") != "json":
            return web.json_response({"error": {"code": "badparams", "info": "unsupported request"}})
        words = [w for w in query.get("srsearch", "").lower().split() if w]
        limit = int(query.get("srlimit", "10"))
        lang = request.match_info["lang"]
        with self._lock:
            candidates = [a for (lng, _), a in self.articles.items() if lng == lang]
        scored = []
        for article in candidates:
            haystack = f"{article.title} {article.extract}".lower()
            score = sum(2 if w in article.title.lower() else 1 for w in words if w in haystack)
            if score:
                scored.append((score, article.title))
        scored.sort(key=lambda item: (-item[0], item[1]))
        hits = [{"ns": 0, "title": title, "pageid": i + 1, "snippet": ""} for i, (_, title) in enumerate(scored)]
        return web.json_response(
            {"batchcomplete": "", "query": {"searchinfo": {"totalhits": len(hits)}, "search": hits[:limit]}}
        )

    async def _summary(self, request: web.Request) -> web.Response:
        lang = request.match_info["lang"]
        title = request.match_info["title"].replace("_", " ")
        with self._lock:
            article = self.articles.get((lang, title))
        if article is None:
            return web.json_response(
                {"type": "https://mediawiki.org/wiki/HyperSwitch/errors/not_found", "title": "Not found."},
                status=404,
            )
        page = f"https://{lang}.wikipedia.org/wiki/{quote(article.title.replace(' ', '_'), safe='()_,:!*')}"
        return web.json_response(
            {
                "type": article.kind,
                "title": article.title,
                "displaytitle": article.title,
                "description": article.description,
                "extract": article.extract,
                "lang": lang,
                "content_urls": {
                    "desktop": {"page": page},
                    "mobile": {"page": page.replace("wikipedia", "m.wikipedia")},
                },
            }
        )
