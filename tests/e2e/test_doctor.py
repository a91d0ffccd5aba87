"""``captainslog doctor`` as a new user meets it: without the Pango libraries, in another folder, with models the
endpoint does not serve; and the chat's start without Pango. Each run is ``python -m bot ...`` in a subprocess
with a clean environment, against the fake OpenAI server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.doctor import is_served
from core.export.engine import install_hint
from tests.fakes.openai_server import FakeOpenAI
from tests.pango_helpers import BANNER, shadow_weasyprint

REPO_ROOT = Path(__file__).resolve().parents[2]
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def run(command: str, workdir: Path, fake: FakeOpenAI, *, lines: str = "", pythonpath: Path | None = None,
        **settings: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``python -m bot <command>`` in `workdir`: only the key and the endpoint set, plus `settings`; no DATA_DIR."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    paths = [str(pythonpath)] if pythonpath else []
    env.update(
        PYTHONPATH=os.pathsep.join([*paths, str(REPO_ROOT)]),
        PYTHONIOENCODING="utf-8",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=fake.base_url,
        TERMINAL_USER="tester",
        MEMORY_EXTRACTION="false",
    )
    env.update(settings)
    return subprocess.run(
        [sys.executable, "-m", "bot", command],
        cwd=workdir, env=env, input=lines, capture_output=True, text=True, encoding="utf-8", timeout=90,
    )  # fmt: skip


def report(result: subprocess.CompletedProcess[str]) -> list[str]:
    lines = result.stdout.splitlines()
    assert lines and all(line[:2] in ("✓ ", "✗ ", "! ") for line in lines), result.stdout + result.stderr
    return lines


def test_without_pango_doctor_reports_it_and_still_runs_every_other_check(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    shadow = shadow_weasyprint(tmp_path / "shadow")

    result = run("doctor", workdir, openai_fake, pythonpath=shadow)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == "" and "Traceback" not in result.stdout and BANNER not in result.stdout
    lines = report(result)
    assert [line for line in lines if line.startswith("✗ ")] == [f"✗ PDF rendering: {install_hint()}"]
    assert lines[0] == "✓ settings loaded (time zone UTC)"
    assert f"✓ no .env in {workdir}: using the environment only" in lines
    assert f"✓ model endpoint {openai_fake.base_url} answers (5 models served)" in lines
    assert lines[-1] == (
        "✓ no chat platform configured: `captainslog` starts the terminal chat and the web app at http://127.0.0.1:8080"
    )
    assert list(workdir.iterdir()) == [], "doctor only looks: no data folder, no database"


def test_the_chat_starts_without_pango_and_its_log_has_no_weasyprint_lines(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    shadow = shadow_weasyprint(tmp_path / "shadow")

    result = run("chat", workdir, openai_fake, lines="hello\n", pythonpath=shadow)

    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "You said:" in result.stdout and "hello" in result.stdout
    assert "Traceback" not in result.stdout and BANNER not in result.stdout
    log = (workdir / "data" / "captainslog.log").read_text(encoding="utf-8")
    assert "INFO bot: settings from the environment" in log
    assert "weasyprint" not in log and "Traceback" not in log


def test_doctor_in_a_folder_with_a_dotenv_names_it_and_creates_nothing(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Europe/Paris\n", encoding="utf-8")

    result = run("doctor", tmp_path, openai_fake)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = report(result)
    assert lines[:2] == [
        "✓ settings loaded (time zone Europe/Paris)",
        f"✓ settings from {tmp_path / '.env'} and the environment",
    ]
    database = tmp_path / "data" / "captainslog.db"
    assert f"✓ no database yet at {database}: it is created at first start" in lines
    assert any(line.startswith("✓ PDF rendering works (WeasyPrint ") for line in lines)
    assert [p.name for p in tmp_path.iterdir()] == [".env"], "no data folder, no database"


def test_doctor_opens_an_existing_database_without_changing_it(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    assert run("migrate", tmp_path, openai_fake).returncode == 0
    database = tmp_path / "data" / "captainslog.db"
    before = database.read_bytes(), sorted(p.name for p in database.parent.iterdir())

    result = run("doctor", tmp_path, openai_fake, AUTO_MIGRATE="false")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"✓ database sqlite+aiosqlite:///data/captainslog.db reachable (SQLite file {database})" in report(result)
    assert (database.read_bytes(), sorted(p.name for p in database.parent.iterdir())) == before


def test_doctor_names_each_model_the_endpoint_does_not_serve(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    result = run(
        "doctor", tmp_path, openai_fake,
        EMBEDDING_MODEL="nomic-embed-text", TRANSCRIPTION_MODEL="whisper-large-v3", VISION_MODEL="gpt-4o-mini",
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    assert [line for line in report(result) if line[:2] in ("✗ ", "! ")] == [
        "✗ embedding model 'nomic-embed-text' is not served by the endpoint (every message is embedded); "
        "set EMBEDDING_MODEL",
        "! transcription model 'whisper-large-v3' is not served by the endpoint (voice messages); "
        "set TRANSCRIPTION_MODEL, or leave it if you do not need that",
    ]


def test_a_model_only_a_feature_needs_warns_without_failing(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    # A local server with a chat and an embedding model but no speech or image model: usable.
    result = run("doctor", tmp_path, openai_fake, SPEECH_MODEL="kokoro", IMAGE_MODEL="flux")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in report(result) if line[:2] in ("✗ ", "! ")] == [
        "! image model 'flux' is not served by the endpoint (pictures the assistant makes); "
        "set IMAGE_MODEL, or leave it if you do not need that",
        "! speech model 'kokoro' is not served by the endpoint (spoken replies); "
        "set SPEECH_MODEL, or leave it if you do not need that",
    ]


def test_a_model_name_without_a_tag_matches_the_latest_tag_as_ollama_lists_it() -> None:
    served = ["llama3.2:latest", "nomic-embed-text:latest", "qwen2.5:7b"]
    assert is_served("llama3.2", served) and is_served("llama3.2:latest", served)
    assert is_served("qwen2.5:7b", served)
    assert not is_served("qwen2.5", served), "only :latest is what a name without a tag means"
    assert not is_served("llama3.2:1b", served) and not is_served("gpt-4o-mini", served)


def test_doctor_warns_when_no_font_has_emoji_or_cjk_glyphs(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    if shutil.which("fc-list") is None:
        pytest.skip("fontconfig's fc-list is not installed")
    # Fontconfig sees only the DejaVu fonts (as on a machine with just fonts-dejavu-core).
    fonts = tmp_path / "fonts.conf"
    fonts.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )

    result = run("doctor", tmp_path, openai_fake, FONTCONFIG_FILE=str(fonts))

    assert result.returncode == 0, "a missing font is a warning: the PDF still renders"
    assert (
        "! PDF fonts: emoji and Chinese and Japanese would show as empty boxes; install fonts for them "
        "(Debian: apt install fonts-noto-color-emoji fonts-noto-cjk)"
    ) in report(result)


def test_doctor_finds_the_emoji_and_cjk_fonts_ci_installs(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    if not (Path("/usr/share/fonts/opentype/noto").is_dir() and Path("/usr/share/fonts/truetype/noto").is_dir()):
        pytest.skip("fonts-noto-cjk and fonts-noto-color-emoji are not installed (.ci/run installs them)")

    result = run("doctor", tmp_path, openai_fake)

    assert "✓ PDF fonts cover emoji, Chinese and Japanese" in report(result)


def test_output_to_a_reader_that_left_ends_quietly(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    # `captainslog doctor | head -1`: the reader is gone before the report is written.
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(PYTHONPATH=str(REPO_ROOT), OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=openai_fake.base_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "doctor"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader leaves at once

    errors = process.stderr.read().decode()
    process.wait(timeout=90)

    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
    assert process.returncode == 141
