"""The terminal chat tests' working directory."""

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (no .env); the program's ``DATA_DIR`` is ``./data`` in it."""
    return tmp_path
