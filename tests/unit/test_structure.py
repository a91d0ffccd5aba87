"""Rules of the source tree that review keeps finding broken: checked on every run, not remembered.

- Outside core/chat nothing reads the chat service's insides (``chat.db``, ``chat.pipeline``, ``chat.tools``,
  ``chat.tasks``, ``chat.people``, ``chat.windows``, ``chat.places``): features get what they need from their
  FeatureContext (core/features), adapters ask ChatService's public operations, and the benchmarks (bench/)
  take the parts they built the chat service from (bench/wiring.py).
- No module of the product (core/, adapters/, bot/) is over 350 lines.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "adapters", "bot")
BENCHMARKS = "bench"  # held to the reach-through rule too: a benchmark builds the core as the bot does
MAX_LINES = 350
# Over the limit when this rule was written down; each may shrink, never grow; drop an entry once it is split.
OVER_LIMIT: dict[str, int] = {}
REACH_THROUGH = re.compile(r"\bchat\.(db|pipeline|tools|tasks|people|windows|places)\b")


def product_modules() -> list[Path]:
    return sorted(p for top in PRODUCT for p in (ROOT / top).rglob("*.py"))


def benchmark_modules() -> list[Path]:
    return sorted((ROOT / BENCHMARKS).rglob("*.py"))


def reach_throughs(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every read of the chat service's insides in ``text`` (imports of the
    ``core.chat.*`` modules are not reads)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not re.match(r"\s*(from|import)\s", line) and REACH_THROUGH.search(line):
            found.append((number, line.strip()))
    return found


def test_nothing_outside_core_chat_reaches_into_the_chat_service() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in product_modules() + benchmark_modules()
        if not path.relative_to(ROOT).as_posix().startswith("core/chat/")
        for number, line in reach_throughs(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use ChatService's operations or the FeatureContext instead:\n" + "\n".join(found)


def test_the_benchmarks_are_among_the_modules_checked_for_reach_throughs() -> None:
    # An empty or renamed folder would let the rule pass without looking at a benchmark.
    checked = {path.relative_to(ROOT).as_posix() for path in benchmark_modules()}
    assert {"bench/stream.py", "bench/slack_burst.py", "bench/web.py", "bench/wiring.py"} <= checked


def test_the_reach_through_check_finds_reads_and_leaves_imports_alone() -> None:
    text = "from core.chat.pipeline import TurnPipeline\nx = await self.chat.people.admit(i)\ny = chat.tasks\n"
    assert reach_throughs(text) == [(2, "x = await self.chat.people.admit(i)"), (3, "y = chat.tasks")]


def test_no_module_of_the_product_is_over_350_lines() -> None:
    too_long = {}
    for path in product_modules():
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > OVER_LIMIT.get(name, MAX_LINES):
            too_long[name] = lines
    assert too_long == {}, f"split these modules (at most {MAX_LINES} lines each): {too_long}"


ROW_IMPORT = re.compile(r"^from core\.db\.models import (.+)$", re.MULTILINE)


def rows_imported(text: str) -> set[str]:
    """The names a module imports from core.db.models, less ``utcnow`` (a clock helper, not a row)."""
    return {name.strip() for match in ROW_IMPORT.findall(text) for name in match.split(",")} - {"utcnow"}


def test_adapters_and_the_bot_never_see_a_database_row() -> None:
    # The core hands records to the platforms, the web app and the command line; only the core queries rows.
    found = {
        path.relative_to(ROOT).as_posix(): sorted(rows)
        for path in product_modules()
        if path.relative_to(ROOT).parts[0] in ("adapters", "bot")
        if (rows := rows_imported(path.read_text(encoding="utf-8")))
    }
    assert found == {}, f"use a core operation that returns records instead: {found}"


def test_the_row_check_sees_row_imports_and_not_the_clock_helper() -> None:
    assert rows_imported("from core.db.models import Identity, User\n") == {"Identity", "User"}
    assert rows_imported("from core.db.models import utcnow\n") == set()
