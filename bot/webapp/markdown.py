"""Markdown rendered safely on the server: Python-Markdown, then nh3 keeps only harmless tags and links.

A timeline page renders fifty messages, so both tools are built once and reused (building
either costs more than converting a short message), and a message without any Markdown
syntax is escaped into paragraphs directly, as Python-Markdown would render it.
"""

from __future__ import annotations

import re
from functools import cache
from html import escape

import markdown as md
import nh3
from markupsafe import Markup

TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip
# Anything Python-Markdown might read as syntax (emphasis, code, links, HTML, lists, headings, breaks…).
_SYNTAX = re.compile(r"[*_`#>\[\]!|<&\\~=]|^\s*([-+]|\d+[.)])\s|^ {4}|\t|  $|^-{3,}", re.M)


@cache
def _converter() -> md.Markdown:
    # Reused (reset each time): only the event loop's thread renders.
    return md.Markdown(extensions=["fenced_code", "tables", "sane_lists"], output_format="html")


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def to_html(text: str) -> Markup:
    """The text's Markdown as HTML safe to put in a page (no script, no style, no event handlers)."""
    if not _SYNTAX.search(text):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        return Markup("\n".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs))  # noqa: S704  # escaped
    converter = _converter()
    converter.reset()
    return Markup(_cleaner().clean(converter.convert(text)))  # noqa: S704  # sanitized by nh3
