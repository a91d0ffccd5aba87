"""A bot process that closes the due days, posting on the Discord fake, and stops dead at one step boundary.

Run: ``python -m tests.integration.daily.kill_child DATABASE_URL OPENAI_URL GOOGLE_URL|- DISCORD_API_URL TOKEN
NOW_ISO PDF_DIR BOUNDARY``. BOUNDARY is one of summary, render, upload, text, file: right after that step's
work took effect (the model answered, the PDF was made, Drive stored the file, Discord accepted the text or
the file) and before the database records it, the process prints ``AT <boundary>`` and hangs until the test
kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import discord
import discord.http

from adapters.discord.limits import DiscordBudget
from adapters.discord.messenger import DiscordMessenger
from core.clock import ManualClock
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from tests.daily_helpers import daily_process
from tests.google_helpers import GoogleKit
from tests.integration.daily.crash_child import GoogleAt


async def stop_dead(boundary: str) -> None:
    print(f"AT {boundary}", flush=True)
    await asyncio.Event().wait()


def after(boundary: str, call: Any, when: Any = lambda *_: True) -> Any:
    """`call`, followed by a dead stop at `boundary` when `when(*args)` holds."""

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = await call(*args, **kwargs)
        if when(*args):
            await stop_dead(boundary)
        return result

    return wrapped


async def main(database: str, openai: str, google: str, api: str, token: str, now: str, pdfs: str, at: str) -> None:
    discord.http.Route.BASE = api
    client = discord.Client(intents=discord.Intents.none())
    await client.login(token)
    db = Database(database)
    model = OpenAIModel(api_key="sk-test", base_url=openai, models=ModelNames(), max_retries=0, timeout=10)
    messenger = DiscordMessenger(client, DiscordBudget())
    kit = GoogleKit(db, GoogleAt(google)) if google != "-" else None  # type: ignore[arg-type]
    process = daily_process(
        db, model, ManualClock(datetime.fromisoformat(now)), messengers=[messenger],  # type: ignore[list-item]
        pdf_dir=Path(pdfs), kit=kit, worker="doomed",
    )  # fmt: skip
    job = process.job
    if at == "summary":
        job.writer.write = after(at, job.writer.write)  # type: ignore[method-assign]
    elif at == "render":
        job.render = after(at, job.render)
    elif at == "upload":
        assert job.uploader is not None
        job.uploader.upload = after(at, job.uploader.upload)  # type: ignore[method-assign]
    else:
        is_file = at == "file"
        messenger.send_part = after(  # type: ignore[method-assign]
            at, messenger.send_part, lambda _account, part: (part.file is not None) == is_file
        )
    await process.runner.run_due()
    print("FINISHED without reaching the boundary", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:9]))
