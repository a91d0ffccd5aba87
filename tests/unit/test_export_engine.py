"""WeasyPrint loads on the first render: without the Pango libraries the program starts and a render says what to install."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.export import DayDocument, DayMessage, PdfUnavailable, render_day_pdf
from core.export.engine import install_hint, pdf_problem
from tests.pango_helpers import BANNER, MISSING, shadow_weasyprint, without_pango

REPO_ROOT = Path(__file__).resolve().parents[2]


def _doc() -> DayDocument:
    message = DayMessage(datetime(2026, 3, 14, 12, 0, tzinfo=UTC), "Alice", "user", "Sail at noon", [])
    return DayDocument(
        day=date(2026, 3, 14),
        assistant_name="Captain",
        timezone=ZoneInfo("Europe/Paris"),
        summary_markdown="Sailing.",
        messages=[message],
    )


def test_the_program_starts_without_importing_weasyprint() -> None:
    modules = "bot.__main__, bot.container, bot.daily_wiring, bot.doctor, core.export, core.export.worker"
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'weasyprint'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_the_install_hint_is_one_line_naming_the_packages() -> None:
    hint = install_hint()
    assert "\n" not in hint and hint.startswith("PDF export needs the Pango libraries: ")
    if sys.platform.startswith("linux"):
        assert hint.endswith("sudo apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0")


async def test_a_render_without_pango_raises_the_hint_logs_it_and_prints_nothing(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with without_pango(), caplog.at_level(logging.WARNING, logger="core.export"):
        with pytest.raises(PdfUnavailable) as raised:
            await render_day_pdf(_doc())
        problem = pdf_problem()

    assert str(raised.value) == install_hint()
    assert raised.value.detail == MISSING
    assert problem is not None and str(problem) == install_hint()
    logged = [r for r in caplog.records if r.name == "core.export.pdf"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING and logged[0].exc_info is None
    assert logged[0].getMessage().startswith(f"PDF export unavailable: {install_hint()} (cannot load library")
    assert BANNER not in capsys.readouterr().out, "WeasyPrint's banner stays off the screen"
    # With the libraries back, the same process renders.
    assert pdf_problem() is None
    assert (await render_day_pdf(_doc())).startswith(b"%PDF")


async def test_the_reason_comes_back_from_the_render_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.syspath_prepend(str(shadow_weasyprint(tmp_path)))  # a spawned worker starts with this sys.path
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with caplog.at_level(logging.WARNING, logger="core.export"), pytest.raises(PdfUnavailable) as raised:
            await render_day_pdf(_doc(), executor=pool)

    assert str(raised.value) == install_hint()
    assert raised.value.detail == MISSING
    assert f"PDF export unavailable: {install_hint()} (cannot load library" in caplog.text


def test_the_exception_pickles_with_its_detail() -> None:
    again = pickle.loads(pickle.dumps(PdfUnavailable("PDF export needs X", "no libX")))
    assert str(again) == "PDF export needs X" and again.detail == "no libX"
