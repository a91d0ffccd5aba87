"""`captainslog link` prints a single-use link that signs the terminal user in to the web app."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI
from tests.process_helpers import environment
from tests.web_helpers import SECRET_KEY, WebKit, csrf_of

REPO_ROOT = Path(__file__).resolve().parents[2]


def _link(tmp_path: Path, openai_fake: FakeOpenAI, **settings: str) -> subprocess.CompletedProcess[str]:
    env = environment(tmp_path, openai_fake, TERMINAL_USER="ada", **settings)
    return subprocess.run(
        [sys.executable, "-m", "bot", "link"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


async def test_the_printed_link_signs_the_terminal_user_in(
    tmp_path: Path, openai_fake: FakeOpenAI, model: OpenAIModel
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cl.db'}"
    settings = {"SECRET_KEY": SECRET_KEY, "DATABASE_URL": url, "PUBLIC_URL": "https://bot.example.org"}
    done = _link(tmp_path, openai_fake, ALLOWED_ACCOUNTS="terminal:*", **settings)
    assert done.returncode == 0, done.stderr
    link = re.search(r"https://bot\.example\.org/link/[\w-]+", done.stdout)
    assert link and "as ada" in done.stdout
    db = Database(url)
    try:
        clock = ManualClock(TEST_NOW)
        kit = WebKit(db, make_chat_service(db, model, clock=clock), model, clock, public_url="https://bot.example.org")
        path = "/" + link.group(0).split("/", 3)[3]
        async with kit.client() as client:
            shown = await client.get(path)
            opened = await client.post(path, data={"csrf": csrf_of(shown.text)})
            chat = await client.get("/chat")
        assert opened.status_code == 200 and chat.status_code == 200 and 'id="composer"' in chat.text
    finally:
        await db.dispose()


def test_a_data_folder_that_cannot_hold_the_key_says_what_to_set(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    (tmp_path / "data").write_text("a file, not a folder")  # no SECRET_KEY, and nowhere to keep a made one
    done = _link(tmp_path, openai_fake)
    assert done.returncode == 2 and "SECRET_KEY" in done.stderr and "Traceback" not in done.stderr
