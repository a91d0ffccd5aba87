"""A leading time stamp in an answer is dropped however the stream cuts it; other text passes unchanged."""

from __future__ import annotations

import pytest

from core.chat.stamps import LeadingStampFilter


def run(pieces: list[str]) -> str:
    stamp_filter = LeadingStampFilter()
    return "".join(stamp_filter.feed(p) for p in pieces) + stamp_filter.flush()


@pytest.mark.parametrize(
    "pieces",
    [
        ["[Tue 2026-11-24 13:00 CET]\nHello there"],
        ["[Tue", " 2026-11-24", " 13:00 CET]", "\n", "Hello", " there"],
        ["[Tue 2026-11-24 13:00 CET]", " ", "\n", "Hello there"],
        ["[Tue 2026-11-24 13:00]Hello there"],
        ["[Wed 2026-07-01 08:00 America/New_York]  Hello there"],
    ],
)
def test_a_leading_stamp_is_dropped(pieces: list[str]) -> None:
    assert run(pieces) == "Hello there"


@pytest.mark.parametrize(
    "text",
    [
        "Hello [Tue 2026-11-24 13:00 CET] there",
        "[x] a done task\n[ ] an open one",
        "[link](http://example.org)",
        "[",
        "[Tue 2026-11-24 13:00 CET",
        "   indented answer",
        "",
    ],
)
def test_everything_else_passes_unchanged(text: str) -> None:
    assert run(list(text)) == text  # one character at a time, the hardest cut
    assert run([text]) == text


def test_text_is_held_back_only_while_it_could_be_a_stamp() -> None:
    stamp_filter = LeadingStampFilter()
    assert stamp_filter.feed("Sure") == "Sure"
    assert stamp_filter.feed("[Tue 2026-11-24 13:00 CET]") == "[Tue 2026-11-24 13:00 CET]", "only at the start"
    other = LeadingStampFilter()
    assert other.feed("[see") == ""
    assert other.feed(" below]") == "[see below]"
