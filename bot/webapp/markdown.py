"""Markdown rendered safely on the server: Python-Markdown, then nh3 keeps only harmless tags and links."""

from __future__ import annotations

import markdown as md
import nh3
from markupsafe import Markup

TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip


def to_html(text: str) -> Markup:
    """The text's Markdown as HTML safe to put in a page (no script, no style, no event handlers)."""
    html = md.markdown(text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704  # sanitized by nh3 just above
