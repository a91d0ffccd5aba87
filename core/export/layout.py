"""The day as one HTML document: date heading, summary, then every message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from core.export.document import DayDocument, DayMessage, StoredImage
from core.export.fetcher import is_renderable
from core.export.markup import MarkdownToHtml, image_url


def long_date(day: date) -> str:
    """`Tuesday 1 December 2026` (English, whatever the process locale)."""
    weekdays = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    months = ("January", "February", "March", "April", "May", "June", "July",
              "August", "September", "October", "November", "December")  # fmt: skip
    return f"{weekdays[day.weekday()]} {day.day} {months[day.month - 1]} {day.year}"


def _image_html(image: StoredImage) -> str:
    if not is_renderable(image):
        return f'<p class="image-note">[{escape(image.content_type)} file not shown: {escape(image.key)}]</p>'
    return f'<figure class="image"><img src="{escape(image_url(image.key))}" alt="{escape(image.key)}"></figure>'


def _message_html(message: DayMessage, doc: DayDocument, md: MarkdownToHtml) -> str:
    local = message.at.astimezone(doc.timezone)
    body = md.convert(message.text) if message.text.strip() else ""
    images = "".join(_image_html(image) for image in message.images)
    if message.cut_off:
        images += '<p class="cut-off">(the answer stopped here, before it was finished)</p>'
    return (
        f'<article class="message {message.role}">'
        f'<p class="meta"><span class="time">{local:%H:%M}</span> '
        f'<span class="speaker">{escape(message.speaker)}</span></p>'
        f'<div class="body">{body}</div>{images}</article>'
    )


def day_html(doc: DayDocument, messages: Sequence[DayMessage] | None = None, *, first: bool = True) -> str:
    """The document as HTML; every piece of user or model text is escaped or sanitised.

    By default the whole day. A long day is rendered in parts: `messages` is then one
    contiguous slice of the day (in time order) and only the first part (`first`) carries
    the date heading and the summary.
    """
    md = MarkdownToHtml()
    ordered = sorted(doc.messages if messages is None else messages, key=lambda m: m.at)
    body = "".join(_message_html(m, doc, md) for m in ordered)
    head = f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(doc.title)}</title></head><body>'
    if not first:
        return f"{head}{body}</body></html>"
    tz_name = getattr(doc.timezone, "key", None) or str(doc.timezone)
    summary = md.convert(doc.summary_markdown) if doc.summary_markdown.strip() else '<p class="empty">No summary.</p>'
    body = body or '<p class="empty">No messages.</p>'
    return (
        f"{head}"
        f'<header class="day"><h1 data-title="{escape(doc.title)}">{long_date(doc.day)}</h1>'
        f'<p class="subtitle">{escape(doc.assistant_name)} · day log · {escape(tz_name)}</p></header>'
        f'<section class="summary"><h2>Summary</h2>{summary}</section>'
        f'<h2 class="day-heading">The day</h2>{body}'
        "</body></html>"
    )
