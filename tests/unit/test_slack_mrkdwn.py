"""Markdown → Slack mrkdwn, Slack text → plain text, and staying under Slack's size limit."""

from __future__ import annotations

import pytest

from adapters.slack.mrkdwn import Escaping, escape, from_slack_text, to_mrkdwn
from adapters.text import Splitter

# -- emphasis ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold**", "*bold*"),
        ("__bold__", "*bold*"),
        ("*italic*", "_italic_"),
        ("_italic_", "_italic_"),
        ("~~gone~~", "~gone~"),
        ("***both***", "*_both_*"),
        ("a **bold** and *italic* word", "a *bold* and _italic_ word"),
        ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
        ("**two** **bolds**", "*two* *bolds*"),
    ],
)
def test_emphasis(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_name and other_name",
        "2*3*4 = 24",
        "a * b * c",
        "an ** orphan",
        "file__name__here",
        "~ approximately ~",
        "unclosed **bold at the end",
    ],
)
def test_what_is_not_emphasis_stays_as_written(text: str) -> None:
    assert to_mrkdwn(text) == text


# -- links ----------------------------------------------------------------------------------


def test_links_become_slack_links() -> None:
    assert to_mrkdwn("see [the docs](https://example.com/a)") == "see <https://example.com/a|the docs>"
    assert to_mrkdwn("![a cat](https://example.com/cat.png)") == "<https://example.com/cat.png|a cat>"
    assert to_mrkdwn('[t](https://x.y "Title")') == "<https://x.y|t>"
    assert to_mrkdwn("mail [me](mailto:a@b.c)") == "mail <mailto:a@b.c|me>"


def test_link_targets_and_labels_are_safe() -> None:
    assert to_mrkdwn("[q](https://x.y/?a=1&b=2)") == "<https://x.y/?a=1&amp;b=2|q>"
    assert to_mrkdwn("[q](https://x.y/a|b)") == "<https://x.y/a%7Cb|q>"
    assert to_mrkdwn("[a > b](https://x.y)") == "<https://x.y|a &gt; b>"
    assert to_mrkdwn("[**bold** label](https://x.y)") == "<https://x.y|bold label>"
    # Parentheses inside the URL (Wikipedia style).
    assert (
        to_mrkdwn("[Foo](https://en.wikipedia.org/wiki/Foo_(bar))") == "<https://en.wikipedia.org/wiki/Foo_(bar)|Foo>"
    )


def test_underscores_and_stars_in_urls_are_not_emphasis() -> None:
    assert to_mrkdwn("[x](https://a.b/some_path_here)") == "<https://a.b/some_path_here|x>"
    assert to_mrkdwn("<https://a.b/*star*>") == "<https://a.b/*star*>"


def test_relative_links_are_spelled_out() -> None:
    assert to_mrkdwn("[readme](docs/README.md)") == "readme (docs/README.md)"


def test_autolinks_keep_their_brackets() -> None:
    assert to_mrkdwn("go to <https://example.com/x?a=1&b=2> now") == "go to <https://example.com/x?a=1&amp;b=2> now"


# -- escaping ---------------------------------------------------------------------------------


def test_control_characters_are_escaped() -> None:
    assert to_mrkdwn("Tom & Jerry <3 and x > y") == "Tom &amp; Jerry &lt;3 and x &gt; y"
    # A would-be mention or channel ping is only text.
    assert to_mrkdwn("<!channel> <@U123>") == "&lt;!channel&gt; &lt;@U123&gt;"
    # What the model writes as an entity is shown as written.
    assert to_mrkdwn("&amp;") == "&amp;amp;"


def test_escape_modes() -> None:
    text = "a & b < c > d &lt;"
    assert escape(text) == "a &amp; b &lt; c &gt; d &amp;lt;"
    assert escape(text, Escaping.SHORT) == "a & b &lt; c > d &amp;lt;"
    assert escape(text, Escaping.COMPACT) == "a & b ‹ c > d ＆lt;"
    assert escape("> quote", Escaping.SHORT, line_start=True) == "&gt; quote"


# -- code -----------------------------------------------------------------------------------


def test_code_spans_are_not_converted_but_escaped() -> None:
    assert to_mrkdwn("use `**kwargs` and `a_b_c`") == "use `**kwargs` and `a_b_c`"
    assert to_mrkdwn("`x < y && z`") == "`x &lt; y &amp;&amp; z`"
    assert to_mrkdwn("``a `tick` here``") == "`a `tick` here`"


def test_fenced_code_is_left_alone_and_loses_its_language() -> None:
    markdown = "Before **x**\n```python\ndef f(*args, **kwargs):\n    # **not bold** _not italic_\n    return a < b\n```\nAfter *y*"
    assert to_mrkdwn(markdown) == (
        "Before *x*\n```\ndef f(*args, **kwargs):\n    # **not bold** _not italic_\n    return a &lt; b\n```\nAfter _y_"
    )


def test_tilde_fences_and_long_fences() -> None:
    assert to_mrkdwn("~~~\n- not a list\n~~~") == "```\n- not a list\n```"
    assert to_mrkdwn("````md\n```\ninner\n```\n````") == "```\n```\ninner\n```\n```"


def test_an_unclosed_fence_runs_to_the_end() -> None:
    # While an answer streams, the renderer closes the fence after the conversion.
    assert to_mrkdwn("Intro\n```js\nconst a = **b**;\n# not a heading") == (
        "Intro\n```\nconst a = **b**;\n# not a heading"
    )


def test_a_piece_reopened_by_the_splitter_converts_like_the_whole() -> None:
    answer = (
        "Intro\n\n```python\n" + "".join(f"x_{i} = y_{i} * 2  # *{i}*\n" for i in range(400)) + "```\n\nOutro **done**"
    )
    splitter = Splitter(3800, reserve=160, measure=lambda md: len(to_mrkdwn(md)))
    rendered = [to_mrkdwn(p.opening + p.body) + p.closing for p in splitter.pieces(answer)]
    assert len(rendered) > 1
    for text in rendered:
        assert text.count("```") % 2 == 0
    joined = "\x00".join(rendered).replace("```\x00```\n", "").replace("\x00", "")
    assert joined == to_mrkdwn(answer)


# -- blocks --------------------------------------------------------------------------------------


def test_headings_become_bold_lines() -> None:
    assert to_mrkdwn("# Title") == "*Title*"
    assert to_mrkdwn("### Sub **part** ###") == "*Sub part*"
    assert to_mrkdwn("#hashtag") == "#hashtag"
    assert to_mrkdwn("##") == ""


def test_lists() -> None:
    assert to_mrkdwn("- one\n* two\n+ three") == "• one\n• two\n• three"
    assert to_mrkdwn("- top\n  - nested **b**") == "• top\n  • nested *b*"
    assert to_mrkdwn("1. first\n2) second\n10. tenth") == "1. first\n2) second\n10. tenth"
    assert to_mrkdwn("- [ ] todo\n- [x] done") == "• ☐ todo\n• ☑ done"


def test_quotes_rules_and_paragraphs() -> None:
    assert to_mrkdwn("> quoted *text* & more") == "> quoted _text_ &amp; more"
    assert to_mrkdwn("above\n\n---\n\nbelow") == "above\n\n───\n\nbelow"
    assert to_mrkdwn("* * *") == "───"
    assert to_mrkdwn("line one\nline two\n\nnew paragraph") == "line one\nline two\n\nnew paragraph"


def test_plain_text_is_unchanged() -> None:
    text = "Just a sentence, with punctuation: nothing to do! (Really.) 100% sure; 3/4 done."
    assert to_mrkdwn(text) == text
    assert to_mrkdwn("") == ""


# -- the size limit ------------------------------------------------------------------------------


def test_code_full_of_markup_is_split_so_every_message_fits_with_full_escaping() -> None:
    html = "```html\n" + "<div><p>a &amp; b</p></div>\n" * 400 + "```"
    splitter = Splitter(3800, reserve=160, measure=lambda md: len(to_mrkdwn(md)))
    rendered = [to_mrkdwn(p.opening + p.body) + p.closing for p in splitter.pieces(html)]

    assert len(rendered) > 2
    assert all(len(text) <= 3640 for text in rendered)
    assert all("&lt;div&gt;" in text and "‹" not in text for text in rendered)


def test_compact_is_never_longer_than_the_markdown() -> None:
    worst = "&<>" * 1200 + "\n```\n" + "<&>" * 100 + "\n```"
    assert len(to_mrkdwn(worst, Escaping.COMPACT)) <= len(worst)
    assert "<" not in to_mrkdwn(worst, Escaping.COMPACT)


# -- what users write -----------------------------------------------------------------------------


def test_from_slack_text() -> None:
    assert from_slack_text("<@UBOT> hello", bot_user_id="UBOT") == "hello"
    assert from_slack_text("hi <@U1|alice> and <@U2>") == "hi @alice and @U2"
    assert from_slack_text("in <#C1|general>: <!here> <!subteam^S1|@devs>") == "in #general: @here @devs"
    assert from_slack_text("see <https://x.y/a?b=1&amp;c=2|the page> or <https://x.y>") == (
        "see the page (https://x.y/a?b=1&c=2) or https://x.y"
    )
    assert from_slack_text("<mailto:a@b.c|a@b.c>") == "a@b.c"
    assert from_slack_text("a &lt; b &amp;&amp; c &gt; d") == "a < b && c > d"
    assert from_slack_text("*bold* stays as the user typed it") == "*bold* stays as the user typed it"
