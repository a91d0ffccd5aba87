"""The web app under load: WebSocket chats, the timeline of a long history, search.

    python -m bench.web [--chats 100] [--words 60] [--messages 100000] [--samples 200]
                        [--database sqlite,postgresql] [--parts chats,history]

1. ``--chats`` people chat at once, each over its own WebSocket (aiohttp's client) to the real
   uvicorn server, through the real core to the fake OpenAI server, which streams each answer at
   40 words a second after 300 ms. For every model chunk, the latency runs from the fake writing
   it (its own stamps) to the arrival of the first frame that shows it (a socket that fell behind
   gets several chunks in one frame: each counts from its own moment). "not exact" counts answers
   whose frames, joined, differ from what the model sent. "server CPU per chunk" is the server
   process's CPU time (all its threads) over the run, turn starts included, divided by the chunks.
   The browsers (bench/web_clients.py) and the fake model (bench/web_model.py) run in processes of
   their own, as a remote model and real browsers do not share the server's CPU time or its GIL.
2. One person with ``--messages`` messages (bench/memory_search.py's filler, random embeddings,
   indexed by the assistant's embedding model): the timeline's first page and a page from the middle
   (``core.db.timeline.timeline_page``, the query the page and the API run: server time), the whole
   ``GET /timeline`` page rendered, and ``GET /api/v1/search`` (memory search; each question's
   embedding comes from the in-process fake once, then from the embedder's cache of recent texts).

On a shared machine every figure is noisy: print ``uptime`` with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import insert, update

from bench.memory_search import fill
from bench.stream import Options, bench_database, build_chat, percentile
from bench.wiring import BenchCore
from bot.web import WebServer, create_app
from bot.webapp import WebApp
from bot.webapp.live import LiveAnswer
from core.db.models import Identity
from core.db.models_memory import MessageEmbedding
from core.db.timeline import timeline_page
from core.google.tokens import TokenCipher
from core.identity.access_tokens import AccessTokens
from core.identity.states import OAuthStateStore
from core.identity.web_sessions import WebSessions
from core.memory.wiring import LongTermMemory, Memory, MemorySettings
from core.types import PlatformIdentity
from tests.fakes.openai_server import FakeOpenAI

SECRET = "bench-web-secret-0123456789abcdefghijkl"


@dataclass
class Watch:
    """One browser's view of its answer: when each text frame arrived and the text shown by then."""

    frames: list[tuple[float, int]] = field(default_factory=list)
    text: str = ""
    done: bool = False


def _app(core: BenchCore, public_url: str, memory: LongTermMemory | None = None):  # type: ignore[no-untyped-def]
    db, people = core.db, core.people
    states = OAuthStateStore(db, TokenCipher(SECRET))
    sessions = WebSessions(db, states=states, people=people, public_url=public_url)
    app = create_app(signin=None)
    app.state.webapp = WebApp(db=db, chat=core.chat, sessions=sessions, tokens=AccessTokens(db, people), memory=memory)
    return app, sessions


async def _cookie(sessions: WebSessions, who: PlatformIdentity) -> str:
    link = await sessions.link(who)
    return await sessions.open(link.rsplit("/", 1)[1])


@dataclass(frozen=True)
class _Remote:
    """The model process's address, as ``build_chat`` wants it."""

    base_url: str


@dataclass(frozen=True)
class _Stream:
    """One answer as the model process wrote it: its text and when each content chunk went out."""

    text: str
    content_times: list[float]


async def _model_process(texts: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    """Start the fake model in a process of its own (bench/web_model.py) with one answer per text."""
    model = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.web_model", "40", "0.3",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert model.stdin is not None and model.stdout is not None
    model.stdin.write(json.dumps(texts).encode() + b"\n")
    await model.stdin.drain()
    return model, (await model.stdout.readline()).decode().strip()


async def _streams_of(model: asyncio.subprocess.Process) -> list[_Stream]:
    """End the model process; the streams it wrote."""
    out, _ = await model.communicate(b"done\n")
    return [_Stream(s["text"], s["times"]) for s in json.loads(out)]


async def chats(count: int, words: int, database: str) -> dict[str, float]:
    """``count`` concurrent WebSocket chats; chunk latencies in ms and how many answers were not exact."""
    filler = ("wind tide harbour sail rope deck mast keel chart compass " * 20).split()
    texts = [f"Answer {n}: " + " ".join(filler[:words]) for n in range(count)]
    model_process, base_url = await _model_process(texts)
    with tempfile.TemporaryDirectory() as folder:
        options = Options(database=database)
        async with bench_database(options, Path(folder)) as db:
            core, model = await build_chat(_Remote(base_url), db, ("bench:*",), options)  # type: ignore[arg-type]
            app, sessions = _app(core, "http://unset")
            server = WebServer(app, host="127.0.0.1", port=0)
            await server.start()
            sessions.public_url = server.url
            people = [PlatformIdentity("bench", "w", f"p{n}", f"P{n}") for n in range(count)]
            cookies = [await _cookie(sessions, p) for p in people]
            watches = [Watch() for _ in people]
            seen_by_server: dict[int, Watch] = {}  # per answer: when the web layer had each delta from the core
            original_emit = LiveAnswer.emit

            async def stamped(self: LiveAnswer, frame: dict) -> None:  # type: ignore[type-arg]
                if frame["type"] == "delta":
                    watch = seen_by_server.setdefault(id(self), Watch())
                    watch.text += frame["text"]
                    watch.frames.append((time.perf_counter(), len(watch.text)))
                await original_emit(self, frame)

            LiveAnswer.emit = stamped  # type: ignore[method-assign]
            url = server.url.replace("http://", "ws://") + "/ws/chat"
            # The browsers run in a process of their own, as real browsers would not share the server's loop.
            started, cpu = time.perf_counter(), time.process_time()
            clients = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.web_clients", url, server.url,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await clients.communicate(json.dumps(cookies).encode())
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            for watch, seen in zip(watches, json.loads(out), strict=True):
                watch.text = seen["text"]
                watch.frames = [(t, length) for t, length in seen["frames"]]
            LiveAnswer.emit = original_emit  # type: ignore[method-assign]
            await server.stop()
            await core.chat.close()
            await model.close()
    streams = await _streams_of(model_process)
    browser, lost = _latencies(streams, watches)
    core_side, _ = _latencies(streams, list(seen_by_server.values()))
    chunks = sum(len(s.content_times) for s in streams)
    return {
        "chunks": chunks,
        "frames": sum(len(w.frames) for w in watches),
        "p50": percentile([ms for _, ms in browser], 50),
        "p95": percentile([ms for _, ms in browser], 95),
        "max": max((ms for _, ms in browser), default=float("nan")),
        "p95 after 5": percentile([ms for index, ms in browser if index >= 5], 95),
        "core p50": percentile([ms for _, ms in core_side], 50),
        "core p95": percentile([ms for _, ms in core_side], 95),
        "cpu per chunk": cpu * 1000 / max(chunks, 1),
        "lost": lost,
        "seconds": elapsed,
    }


def _latencies(streams: list[_Stream], watches: list[Watch]) -> tuple[list[tuple[int, float]], int]:
    """Per model chunk: (its index in the answer, ms from the model writing it to the first frame showing it),
    and how many answers were not shown exactly. A frame may carry several chunks (a socket that fell behind
    gets them joined): each chunk counts from the moment it was written."""
    by_text = {s.text: s for s in streams}
    out: list[tuple[int, float]] = []
    lost = 0
    for watch in watches:
        record = by_text.get(watch.text)
        if record is None:
            lost += 1
            continue
        frames = iter(watch.frames)
        arrived, length = next(frames, (0.0, 0))
        end = 0
        pieces = _pieces(record.text, len(record.content_times))
        for index, (piece, sent) in enumerate(zip(pieces, record.content_times, strict=True)):
            end += len(piece)
            while length < end:
                arrived, length = next(frames)
            out.append((index, (arrived - sent) * 1000))
    return out, lost


def _pieces(text: str, count: int) -> list[str]:
    """The model's content chunks: the fake splits a reply into words with their spaces."""
    from tests.fakes.openai_server import split_words

    pieces = [p for p in split_words(text) if p]
    assert len(pieces) == count, (len(pieces), count)
    return pieces


async def history(messages: int, database: str, samples: int = 200) -> dict[str, dict[str, float]]:
    """Timeline pages and search over one person's ``messages`` messages (ms)."""
    dims = 256
    out: dict[str, dict[str, float]] = {}
    with FakeOpenAI(embedding_dim=dims) as fake, tempfile.TemporaryDirectory() as folder:
        options = Options(database=database)
        async with bench_database(options, Path(folder)) as db:
            user_id = await fill(db, messages, dims)
            core, model = await build_chat(fake, db, ("bench:*",), options)
            # The history was indexed by this assistant's embedding model: otherwise memory's backfill
            # re-embeds all of it while the searches are timed (what happens once after changing the model).
            async with db.engine.begin() as conn:
                await conn.execute(update(MessageEmbedding).values(model=model.models.embedding))
            feature = Memory(model, MemorySettings(embedding_dimensions=dims, extraction=False), core.chat.counter)
            core.install(feature)
            assert feature.services is not None
            app, sessions = _app(core, "https://bench.example", feature.services)
            # The filled person gets an account to sign in with: the bench identity resolves to user_id.
            async with db.engine.begin() as conn:
                await conn.execute(
                    insert(Identity).values(user_id=user_id, platform="bench", workspace="w", platform_user_id="big")
                )
            cookie = await _cookie(sessions, PlatformIdentity("bench", "w", "big", "Big"))
            first = await timeline_page(db, user_id, limit=51)
            middle = first[0].id - messages // 2

            async def timed(work) -> dict[str, float]:  # type: ignore[no-untyped-def]
                times = []
                for _ in range(5):  # warm-up: caches, prepared statements
                    await work()
                for _ in range(samples):
                    begun = time.perf_counter()
                    await work()
                    times.append((time.perf_counter() - begun) * 1000)
                return {"p50": statistics.median(times), "p95": percentile(times, 95), "max": max(times)}

            out["timeline first page (query)"] = await timed(lambda: timeline_page(db, user_id, limit=51))
            out["timeline middle page (query)"] = await timed(
                lambda: timeline_page(db, user_id, before=middle, limit=51)
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://bench.example") as client:
                client.cookies.set("captainslog_web", cookie, domain="bench.example")
                assert (await client.get("/timeline")).status_code == 200
                out["GET /timeline (rendered)"] = await timed(lambda: client.get("/timeline"))
                await client.get("/api/v1/search", params={"q": "warm up"})  # loads the vector index
                words = ["yeah good", "weekend plans", "time today", "sailing boat harbour"]
                state = {"n": 0}

                async def one_search() -> None:
                    state["n"] += 1
                    answer = await client.get("/api/v1/search", params={"q": words[state["n"] % len(words)]})
                    assert answer.status_code == 200, answer.text

                out["GET /api/v1/search"] = await timed(one_search)
            await core.chat.close()
            await model.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--parts", default="chats,history", help="comma-separated: chats, history")
    args = parser.parse_args()
    databases = [d.strip() for d in args.database.split(",") if d.strip()]
    if unknown := set(databases) - {"sqlite", "postgresql"}:
        parser.error(f"unknown database: {', '.join(sorted(unknown))}")
    parts = set(args.parts.split(","))
    if "chats" in parts:
        _print_chats(args.chats, args.words, databases)
    if "history" in parts:
        _print_history(args.messages, args.samples, databases)


def _print_chats(count: int, words: int, databases: list[str]) -> None:
    print(f"{count} WebSocket chats at once, {words} words each")
    print("| database | chunks | frames | chunk → browser p50 ms | p95 ms | max ms | p95 after the first 5 chunks "
          "| chunk → web layer p50 / p95 ms | server CPU ms per chunk | not exact | seconds |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for database in databases:
        r = asyncio.run(chats(count, words, database))
        print(
            f"| {database} | {r['chunks']} | {r['frames']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
            f"{r['p95 after 5']:.1f} | {r['core p50']:.1f} / {r['core p95']:.1f} | {r['cpu per chunk']:.3f} | "
            f"{r['lost']} | {r['seconds']:.1f} |"
        )


def _print_history(messages: int, samples: int, databases: list[str]) -> None:
    for database in databases:
        figures = asyncio.run(history(messages, database, samples))
        print(f"\nOne person with {messages:,} messages ({database}), {samples} samples each")
        print("| what | p50 ms | p95 ms | max ms |")
        print("|---|---:|---:|---:|")
        for name, f in figures.items():
            print(f"| {name} | {f['p50']:.1f} | {f['p95']:.1f} | {f['max']:.1f} |")


if __name__ == "__main__":
    main()
