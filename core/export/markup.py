"""Chat Markdown to sanitised HTML for the day's PDF.

Chat platforms show raw HTML in a message as text, so the Markdown parser here
does the same (its raw-HTML passes are switched off) and the result is then
sanitised with nh3 as a second line of defence: only text, code, list, table,
link and image tags survive, links only to http, https and mailto, and images
only through the internal image scheme that the PDF's URL fetcher serves from
the day's own stored images.
"""

from __future__ import annotations

from urllib.parse import quote

import markdown
import nh3

from core.export.flatten import flatten_nesting

IMAGE_SCHEME = "cl-image"

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    "strong", "em", "b", "i", "u", "s", "del", "ins", "mark", "sub", "sup", "small",
    "blockquote", "code", "pre", "kbd", "samp", "span", "div", "abbr",
    "ul", "ol", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
    "a", "img",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "ol": {"start"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "abbr": {"title"},
}
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]
_EXTENSION_CONFIGS = {"tables": {"use_align_attribute": True}}


def image_url(key: str) -> str:
    """The internal URL under which the PDF's fetcher serves the stored image `key`."""
    return f"{IMAGE_SCHEME}:{quote(key, safe='')}"


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    # nh3 checks schemes but keeps relative URLs; WeasyPrint would resolve those
    # against a base, so every URL must be absolute and of an allowed kind.
    if tag == "img" and name == "src":
        return value if value.lower().startswith(IMAGE_SCHEME + ":") else None
    if tag == "a" and name == "href":
        return value if value.lower().startswith(_LINK_SCHEMES) else None
    return value


class MarkdownToHtml:
    """Converts one message's Markdown at a time; not thread-safe, make one per render."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
        self._md.preprocessors.deregister("html_block")
        self._md.inlinePatterns.deregister("html")
        self._cleaner = nh3.Cleaner(
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            attribute_filter=_filter_attribute,
            url_schemes={"http", "https", "mailto", IMAGE_SCHEME},
            link_rel=None,
        )

    def convert(self, text: str) -> str:
        """Render `text` (chat Markdown) to a sanitised HTML fragment, nested no deeper than WeasyPrint lays out."""
        html = self._md.reset().convert(text)
        return flatten_nesting(self._cleaner.clean(html))
