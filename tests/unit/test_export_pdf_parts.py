"""A long day's PDF, laid out in parts at once and merged: what a reader finds in it (pypdf)."""

from __future__ import annotations

import io
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from core.export import DayDocument, DayMessage, render_day_pdf
from core.export.parts import SPLIT_FROM, message_cost, split_day

PARIS = ZoneInfo("Europe/Paris")
WORDS = ("anchor", "harbour", "rope", "tide", "deck", "sail", "chart", "wind", "keel", "mast", "galley", "buoy")


def _day(count: int, words: int = 120) -> DayDocument:
    """`count` messages of about `words` words, one a minute from 07:00 (Paris); the last but one has a heading."""
    rng = random.Random(3)
    start = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)
    messages = []
    for i in range(count):
        text = f"Entry {i:03d} " + " ".join(rng.choice(WORDS) for _ in range(words))
        if i == count - 2:
            text = "### Evening plan\n\n" + text
        user = i % 2 == 0
        messages.append(
            DayMessage(
                start + timedelta(minutes=i), "Alice" if user else "Captain", "user" if user else "assistant", text
            )
        )
    summary = "## Decisions\n- Buy **rope**\n- Call the harbour"
    # Handed over out of order: the PDF still follows the clock.
    shuffled = messages[count // 3 :] + messages[: count // 3]
    return DayDocument(date(2026, 3, 14), "Captain", PARIS, summary, shuffled)


def _outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every outline entry, in order."""
    found: list[tuple[int, str, int]] = []

    def walk(items: list, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


def _long_day() -> DayDocument:
    """Just long enough to be laid out in parts (whatever SPLIT_FROM is tuned to)."""
    per_message = message_cost(_day(1).messages[0])
    return _day(int(SPLIT_FROM * 1.1 / per_message) + 1)


def test_a_short_day_stays_a_single_render() -> None:
    doc = _day(40)
    assert split_day(doc) == [sorted(doc.messages, key=lambda m: m.at)]


def _assert_complete(doc: DayDocument, pdf: bytes) -> list[str]:
    """Date and summary first, every message in order with local time and speaker, "Page X of N" on page X.

    Returns the text of each page.
    """
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    total = len(pages)
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in text
        assert text.count(" of ") == 1  # one footer per page, no page carries another's
        assert "2026-03-14 Captain" in text
    text = "\n".join(pages)
    assert text.startswith("Saturday 14 March 2026")
    assert text.index("Buy rope") < text.index("Call the harbour") < text.index("Entry 000")
    ordered = sorted(doc.messages, key=lambda m: m.at)
    position = 0
    for i, message in enumerate(ordered):
        heading = "Evening plan\n" if i == len(ordered) - 2 else ""
        header = f"{message.at.astimezone(PARIS):%H:%M} {message.speaker}\n{heading}Entry {i:03d}"
        found = text.find(header, position)
        assert found > position, f"message {i} missing or out of order"
        position = found
    return pages


async def test_a_long_day_in_parts_has_summary_first_every_message_in_order_and_pages_numbered_over_all() -> None:
    doc = _long_day()
    first, second = split_day(doc)  # long enough to be laid out in two parts at once
    assert first[-1].at < second[0].at

    pdf = await render_day_pdf(doc)

    pages = _assert_complete(doc, pdf)
    reader = PdfReader(io.BytesIO(pdf))
    # The outline is the one a single render makes: a heading in the second part nests under "The day".
    outline = _outline(reader)
    assert [(depth, title) for depth, title, _ in outline] == [
        (0, "Saturday 14 March 2026"),
        (1, "Summary"),
        (1, "Decisions"),
        (1, "The day"),
        (2, "Evening plan"),
    ]
    evening_page = outline[-1][2]
    assert "Evening plan" in pages[evening_page]
    assert evening_page > len(pages) // 2
    assert reader.metadata is not None and reader.metadata.title == "2026-03-14 Captain"


@pytest.mark.skipif(not Path("/bin/false").exists(), reason="needs /bin/false")
async def test_when_the_part_worker_dies_its_part_is_laid_out_here_and_nothing_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker process exits before reading its part
    doc = _long_day()

    _assert_complete(doc, await render_day_pdf(doc))
