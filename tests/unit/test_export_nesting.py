"""Deeply nested quotes and lists (issue 18): every day still renders, with all its words."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from core.export import DayDocument, DayMessage, render_day_pdf
from core.export.flatten import MAX_DEPTH, flatten_nesting
from core.export.markup import MarkdownToHtml

AT = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _doc(*texts: str, summary: str = "Talked about the boat.") -> DayDocument:
    messages = [DayMessage(AT, "Alice", "user", text) for text in texts]
    return DayDocument(date(2026, 3, 14), "Captain", ZoneInfo("Europe/Paris"), summary, messages)


@pytest.mark.parametrize(
    "deep",
    [
        ">" * 150 + " the bottom of the quote",  # the case
        "> " * 150 + "the bottom of the quote",
        "- " * 150 + "the bottom of the quote",
        "1. " * 150 + "the bottom of the quote",
    ],
    ids=["quotes", "spaced-quotes", "bullets", "numbers"],
)
async def test_a_day_with_150_nested_levels_renders_with_every_word(deep: str) -> None:
    doc = _doc("Before the deep one.", deep, "After it.", summary=deep)

    text = " ".join(_text(await render_day_pdf(doc)).split())  # the indented words wrap narrowly

    assert text.count("the bottom of the quote") == 2  # the message and the summary
    assert "Before the deep one." in text and "After it." in text


def test_nesting_is_cut_at_the_limit_and_the_text_and_escaping_are_kept() -> None:
    html = MarkdownToHtml().convert(">" * 150 + " x &lt;script&gt; <b>not bold</b> [a](https://e.org/?q=1&r=2)")

    assert html.count("<blockquote>") == MAX_DEPTH == html.count("</blockquote>")
    assert "&lt;script&gt;" in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert '<a href="https://e.org/?q=1&amp;r=2">a</a></p>' in html


def test_shallow_html_comes_back_unchanged() -> None:
    html = '<blockquote><p>a<br>b &amp; c</p><ul><li><a href="https://e.org/?a=1&amp;b=2">x</a></li></ul></blockquote>'

    assert flatten_nesting(html) == html
