"""`captainslog --version` and `--help` answer without loading the heavy libraries (issue: a fast start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "sqlalchemy", "discord", "slack_bolt", "alembic", "weasyprint", "pydantic_settings", "numpy")


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_the_version_and_help_load_no_heavy_library(flag: str) -> None:
    probe = (
        "import sys\n"
        "from bot.__main__ import main\n"
        "try:\n"
        f"    main([{flag!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "captainslog" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]", f"{flag} loaded: {done.stdout.splitlines()[-1]}"
