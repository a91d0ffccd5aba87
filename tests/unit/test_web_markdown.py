"""The web app's Markdown: the plain-text shortcut renders as Python-Markdown would; nothing unsafe gets through."""

from __future__ import annotations

import markdown
import pytest

from bot.webapp.markdown import _SYNTAX, to_html

PLAIN = ["plain text", "two\nlines", "para one\n\npara two", 'quote\'s "here"', "see http://x.org", "x -- y (12)"]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_takes_the_shortcut_and_renders_as_python_markdown(text: str) -> None:
    assert not _SYNTAX.search(text)
    assert str(to_html(text)) == markdown.markdown(text)


@pytest.mark.parametrize("text", ["- one\n- two", "1. a\n2. b", "a  \nb", "    code", "# h", "3 > 2", "a & b", "*x*"])
def test_anything_like_syntax_goes_through_python_markdown(text: str) -> None:
    assert _SYNTAX.search(text)
    extensions = ["fenced_code", "tables", "sane_lists"]
    assert str(to_html(text)) == markdown.markdown(text, extensions=extensions, output_format="html")


def test_unsafe_html_and_links_are_removed() -> None:
    html = str(to_html("**hi** <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))"))
    assert "<strong>hi</strong>" in html
    for unsafe in ("<script", "alert(1)", "onerror", "<img", "javascript:"):
        assert unsafe not in html
    assert 'rel="noopener noreferrer nofollow"' in str(to_html("[site](https://example.org)"))
