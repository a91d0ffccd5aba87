"""The browsers of bench.web, in a process of their own: one WebSocket chat per cookie, all at once.

    python -m bench.web_clients URL ORIGIN < cookies.json > frames.json

Prints, per chat, the final text and each text frame's arrival (``time.perf_counter()``: the
system's monotonic clock, comparable with the server process's stamps) with the text length by then.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def chat(session: aiohttp.ClientSession, url: str, origin: str, cookie: str, n: int) -> dict[str, object]:
    frames: list[tuple[float, int]] = []
    text = ""
    headers = {"Cookie": f"captainslog_web={cookie}", "Origin": origin}
    async with session.ws_connect(url, headers=headers) as ws:
        await ws.send_json({"type": "send", "text": f"question {n}"})
        while True:
            frame = await ws.receive_json()
            if frame["type"] == "delta":
                text += frame["text"]
                frames.append((time.perf_counter(), len(text)))
            elif frame["type"] in ("done", "error"):
                return {"text": text, "frames": frames, "end": frame["type"]}


async def main_async(url: str, origin: str, cookies: list[str]) -> list[dict[str, object]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        return await asyncio.gather(*(chat(session, url, origin, c, n) for n, c in enumerate(cookies)))


def main() -> None:
    url, origin = sys.argv[1], sys.argv[2]
    cookies = json.load(sys.stdin)
    print(json.dumps(asyncio.run(main_async(url, origin, cookies))))


if __name__ == "__main__":
    main()
