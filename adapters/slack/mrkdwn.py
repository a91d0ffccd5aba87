"""Markdown from the model → Slack mrkdwn, and Slack message text → plain text for the model.

Slack's mrkdwn is not Markdown: ``*bold*``, ``_italic_``, ``~strike~``,
``<url|label>`` links, no headings, no list syntax.  And ``&``, ``<`` and ``>``
are control characters everywhere in a message's text (``<!channel>`` pings a
channel, ``<x>`` is a link), so they are sent as ``&amp;``, ``&lt;`` and
``&gt;`` — inside code too, where nothing else is converted: Slack decodes the
entities before it shows a code block, so the code reads exactly as written.

Escaping makes a text longer than the Markdown it came from; the renderer's
splitter measures the converted text, so every message still fits Slack's limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from adapters.text import FENCE

__all__ = ["Escaping", "from_slack_text", "to_mrkdwn", "escape"]


class Escaping(Enum):
    """How ``&``, ``<`` and ``>`` are written.

    ``FULL`` is what Slack asks for.  ``SHORT`` keeps a bare ``&`` and ``>``
    where Slack cannot misread them (only ``<`` opens a control sequence, and a
    bare ``&`` is only ambiguous before ``amp;``/``lt;``/``gt;``).  ``COMPACT``
    also writes ``<`` as ``‹`` and an ambiguous ``&`` as ``＆``, so the result is
    never longer than the input.
    """

    FULL = "full"
    SHORT = "short"
    COMPACT = "compact"


_AMBIGUOUS_AMP = re.compile(r"&(?=(?:amp|lt|gt);)")


def escape(text: str, mode: Escaping = Escaping.FULL, *, line_start: bool = False) -> str:
    """Escape Slack's control characters in ``text`` (``line_start``: ``text`` begins a line)."""
    if mode is Escaping.FULL:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    amp = "&amp;" if mode is Escaping.SHORT else "＆"
    lt = "&lt;" if mode is Escaping.SHORT else "‹"
    text = _AMBIGUOUS_AMP.sub(amp, text).replace("<", lt)
    if line_start and text.startswith(">"):
        # A leading ">" would make the line a quote.
        text = "&gt;" + text[1:] if mode is Escaping.SHORT else "›" + text[1:]
    return text


# -- block level --------------------------------------------------------------------

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_HEADING_EMPTY = re.compile(r"^ {0,3}#{1,6}[ \t]*$")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_TASK = re.compile(r"^\[([ xX])\][ \t]+")
_NUMBERED = re.compile(r"^([ \t]*)(\d{1,9}[.)])[ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?(.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def to_mrkdwn(markdown: str, mode: Escaping = Escaping.FULL) -> str:
    """Convert the model's Markdown to Slack mrkdwn.

    An unclosed code fence runs to the end of the text (a streaming answer
    stops mid-block; the renderer adds the closing fence).
    """
    out: list[str] = []
    fence = ""  # the open fence's marker, or "" outside code
    for line in markdown.split("\n"):
        match = FENCE.match(line)  # the splitter's own rule: a fence it closes is one we see
        if fence:
            if (
                match
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= len(fence)
                and not match.group(2).strip()
            ):
                fence = ""
                out.append("```")
            else:
                out.append(escape(line, mode))
            continue
        if match:
            fence = match.group(1)
            out.append("```")  # Slack ignores the language and shows it as code otherwise
            continue
        out.append(_line(line, mode))
    return "\n".join(out)


def _line(line: str, mode: Escaping) -> str:
    if _RULE.match(line):
        # Before bullets: "* * *" is a rule, not a list item.
        return "───"
    if heading := _HEADING.match(line):
        text = _inline(heading.group(2), mode, bold_context=True)
        return f"*{text}*" if text.strip() else ""
    if _HEADING_EMPTY.match(line):
        return ""
    if bullet := _BULLET.match(line):
        indent, rest = bullet.groups()
        task = _TASK.match(rest)
        if task:
            rest = ("☑ " if task.group(1) in "xX" else "☐ ") + rest[task.end() :]
        return f"{indent}• {_inline(rest, mode)}"
    if numbered := _NUMBERED.match(line):
        indent, number, rest = numbered.groups()
        return f"{indent}{number} {_inline(rest, mode)}"
    if quote := _QUOTE.match(line):
        return "> " + _inline(quote.group(1), mode, line_start=True)
    return _inline(line, mode, line_start=True)


# -- inline ------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# [label](url "title") and ![alt](url); the url may hold one level of parentheses.
_LINK = re.compile(r"(!?)\[([^\]\n]+)\]\(\s*((?:[^()\s]|\([^()\s]*\))+)(?:\s+\"[^\"\n]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^\s<>]+)>")
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_BOLD_UNDERSCORES = re.compile(r"(?<![\w_])__(?=\S)(.+?)(?<=\S)__(?![\w_])")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_URL_SCHEME = re.compile(r"^(?:https?|mailto|ftp|slack):", re.IGNORECASE)

# Stand-ins while converting, so a converted "*" is not read again as italics and
# a link or code span is not touched by the emphasis rules.
_SLOT = "\x00"
_BOLD, _ITALIC, _STRIKE_MARK = "\x01", "\x02", "\x03"
_SLOT_REF = re.compile(_SLOT + r"(\d+)" + _SLOT)


@dataclass
class _Slots:
    """Pieces already in their final form, put back after the emphasis rules ran."""

    items: list[str]

    def put(self, text: str) -> str:
        self.items.append(text)
        return f"{_SLOT}{len(self.items) - 1}{_SLOT}"

    def restore(self, text: str) -> str:
        return _SLOT_REF.sub(lambda m: self.items[int(m.group(1))], text)


def _inline(text: str, mode: Escaping, *, bold_context: bool = False, line_start: bool = False) -> str:
    text = text.replace(_SLOT, "").replace(_BOLD, "").replace(_ITALIC, "").replace(_STRIKE_MARK, "")
    slots = _Slots([])

    def code(match: re.Match[str]) -> str:
        body = match.group(2)
        if len(match.group(1)) > 1 and body.startswith(" ") and body.endswith(" ") and body.strip():
            body = body[1:-1]  # ``` `` `x` `` ``` style padding
        return slots.put(f"`{escape(body, mode)}`")

    def link(match: re.Match[str]) -> str:
        label, url = match.group(2), match.group(3)
        if not _URL_SCHEME.match(url):
            return slots.put(f"{escape(label, mode)} ({escape(url, mode)})")
        return slots.put(f"<{_link_target(url, mode)}|{_label(label, mode)}>")

    def autolink(match: re.Match[str]) -> str:
        return slots.put(f"<{_link_target(match.group(1), mode)}>")

    text = _CODE_SPAN.sub(code, text)
    text = _LINK.sub(link, text)
    text = _AUTOLINK.sub(autolink, text)
    text = escape(text, mode, line_start=line_start)
    text = _BOLD_ITALIC.sub(lambda m: f"{_BOLD}{_ITALIC}{m.group(1)}{_ITALIC}{_BOLD}", text)
    text = _BOLD_STARS.sub(lambda m: f"{_BOLD}{m.group(1)}{_BOLD}", text)
    text = _BOLD_UNDERSCORES.sub(lambda m: f"{_BOLD}{m.group(1)}{_BOLD}", text)
    text = _ITALIC_STAR.sub(lambda m: f"{_ITALIC}{m.group(1)}{_ITALIC}", text)
    text = _ITALIC_UNDERSCORE.sub(lambda m: f"{_ITALIC}{m.group(1)}{_ITALIC}", text)
    text = _STRIKE.sub(lambda m: f"{_STRIKE_MARK}{m.group(1)}{_STRIKE_MARK}", text)
    if bold_context:
        text = text.replace(_BOLD, "")  # a heading is bold as a whole
    text = text.replace(_BOLD, "*").replace(_ITALIC, "_").replace(_STRIKE_MARK, "~")
    return slots.restore(text)


def _link_target(url: str, mode: Escaping) -> str:
    # "|" and ">" would end the target early.
    url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return url.replace("&", "&amp;") if mode is Escaping.FULL else _AMBIGUOUS_AMP.sub("&amp;", url)


def _label(label: str, mode: Escaping) -> str:
    label = re.sub(r"\*\*|__|~~|`", "", label)  # Slack shows link labels plain
    return escape(label, mode).replace(">", "&gt;")  # ">" would end the link


# -- Slack text → what the model reads ------------------------------------------------------

_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def from_slack_text(text: str, *, bot_user_id: str = "") -> str:
    """A user's Slack message as plain text: our own mention dropped, links and mentions spelled out."""

    def control(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            if bot_user_id and target[1:] == bot_user_id:
                return ""
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            if target.startswith("!subteam^"):
                return label or "@group"
            if target.startswith("!date"):
                return label or ""
            return f"@{label or target[1:]}"
        if label and label != target and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:") if label else target

    plain = _SLACK_LINK.sub(control, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # Dropping the leading mention leaves "  hello": tidy the start only.
    return re.sub(r"^[ \t]+", "", plain).strip()
