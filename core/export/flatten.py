"""Deep nesting in a message's HTML cut to a depth WeasyPrint can lay out.

WeasyPrint builds and lays out boxes recursively: about 150 nested quotes (``>>>>…``)
or list levels (``- - - …``) in one message raise RecursionError, and that day's PDF
would never render. Past `MAX_DEPTH` nested elements the extra tags are left out and
their text kept, so the deepest parts read at the deepest indentation shown. Paragraphs,
links and emphasis inside stay (up to twice that depth in all).
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

# Nested elements kept in one message (a quote in a list item is two); WeasyPrint manages
# well over 60 within the page's own boxes, and nobody reads more than a few.
MAX_DEPTH = 24
# What nests without bound in chat Markdown: these count against MAX_DEPTH.
_CONTAINERS = frozenset({"blockquote", "ul", "ol", "li", "dl", "dt", "dd", "div", "table", "tr", "td", "th"})
# Elements without content: they never open a level.
_VOID = frozenset({"br", "hr", "img", "col", "wbr"})


class _Flattener(HTMLParser):
    def __init__(self, max_depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_depth = max_depth
        self.out: list[str] = []
        self.open: list[tuple[str, bool]] = []  # each open element and whether its tags were written

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.out.append(self._tag(tag, attrs))
            return
        written = [name for name, kept in self.open if kept]
        if tag in _CONTAINERS:
            kept = sum(1 for name in written if name in _CONTAINERS) < self.max_depth
        else:
            kept = len(written) < 2 * self.max_depth
        self.open.append((tag, kept))
        if kept:
            self.out.append(self._tag(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Close up to the matching open element (the sanitiser's output is well formed).
        while self.open:
            name, written = self.open.pop()
            if written:
                self.out.append(f"</{name}>")
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def close_all(self) -> str:
        self.close()
        while self.open:
            name, written = self.open.pop()
            if written:
                self.out.append(f"</{name}>")
        return "".join(self.out)

    @staticmethod
    def _tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
        written = "".join(f' {name}="{escape(value or "", quote=True)}"' for name, value in attrs)
        return f"<{tag}{written}>"


def flatten_nesting(html: str, max_depth: int = MAX_DEPTH) -> str:
    """`html` (a sanitised fragment) with no more than `max_depth` nested elements; all its text kept."""
    flattener = _Flattener(max_depth)
    flattener.feed(html)
    return flattener.close_all()
