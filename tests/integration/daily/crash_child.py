"""A bot process that closes the due days and hangs while rendering, to be killed with SIGKILL by a test.

Run: ``python -m tests.integration.daily.crash_child DATABASE_URL OPENAI_URL GOOGLE_URL NOW_ISO PDF_DIR``.
It prints ``RENDERING`` once its render has started; from then on only a kill ends it.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.clock import ManualClock
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from tests.daily_helpers import RecordingMessenger, daily_process
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET
from tests.google_helpers import GoogleKit


@dataclass
class GoogleAt:
    """The Google fake's addresses, as GoogleKit reads them from the fake."""

    url: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def __getattr__(self, name: str) -> str:
        paths = {"auth_url": "/o/oauth2/v2/auth", "token_url": "/token", "certs_url": "/oauth2/v1/certs",
                 "revoke_url": "/revoke", "api_url": "/"}  # fmt: skip
        if name in paths:
            return self.url + paths[name]
        raise AttributeError(name)


async def hang_while_rendering(_doc: object) -> bytes:
    print("RENDERING", flush=True)
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def main(database_url: str, openai_url: str, google_url: str, now: str, pdf_dir: str) -> None:
    db = Database(database_url)
    model = OpenAIModel(api_key="sk-test", base_url=openai_url, models=ModelNames(), max_retries=0, timeout=10)
    process = daily_process(
        db, model, ManualClock(datetime.fromisoformat(now)), messengers=[RecordingMessenger("slack")],
        pdf_dir=Path(pdf_dir), kit=GoogleKit(db, GoogleAt(google_url)), worker="doomed",  # type: ignore[arg-type]
    )  # fmt: skip
    process.job.render = hang_while_rendering
    await process.runner.run_due()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
