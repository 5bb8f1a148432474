"""The postmortem Markdown's building blocks, read back with a real Markdown parser: user text shows exactly as typed
and never formats, people are named, times read as a person would write them."""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from bot.domain.markdown import WORD_JOINER, inert_markdown, link, who
from bot.domain.text import slack_to_plain
from bot.domain.when import Days, by_day, stamp, t_plus, time_of_day
from tests.markdown_check import blocks, html, inlines, shape, shown_text

HOSTILE = [
    "# heading", "## two", "1. list", "2) list", "- item", "+ item", "* item", "*bold*", "**strong**", "_x_", "__x__",
    "`code`", "``a` b``", "[a](http://x)", "![img](http://x/i.png)", "[ref]: http://x", "<script>alert(1)</script>",
    "<http://x>", "<a@b.co>", "<!-- c -->", "|a|b|", "a | b", "\\", "a\\", "\\*", "&amp;", "&#35;", "&copy; 2026",
    "https://evil.example/x?y=1", "see www.example.com now", "mail me@example.com", "mailto:me@example.com",
    "   indented code", "\tindented", "---", "===", "***", "___", "- - -", "> quote", ">quote", "~~strike~~", "~x~",
    "line one\n# heading", "one\n---", "a  \nb", "x\\\ny", "```\nfence\n```", "~~~", "Fix #", "Fix ##  ", "#5 broke",
    "<div>block</div>", "[x]", "a]b[c", "*a * b*", "a * b", "snake_case_name", "_leading", "trailing_", "1986. A year",
]
PLAIN = ["5 - 3 (ok) #1", "snake_case and AT&T", "a < b and c > d", "3 * 4 = 12", "v1.2.3 (stable!)", "100% {done}",
         "Latency p99 = 2.5s; errors: 0.3%", "It's \"fine\" - really? yes.", "C# #2 tag#3", "e.g. a/b, c+d"]

# Where a value can land in the draft: alone on a line (a description), after a label in a list item, in a table cell,
# in the title heading, and beside another value in the same paragraph.
CONTEXTS = {
    "line": "{}\n",
    "list": "- **Label:** {}\n",
    "cell": "| When | What |\n|---|---|\n| 03:00:00 UTC | {} |\n",
    "heading": "# Postmortem draft: INC-1 · {}\n",
    "pair": "- **03:00:00 UTC (T+00:00)**, impact: {}; doing: {}\n",
}


def expected(text: str) -> str:
    """What a reader must see: the text, as one line (runs of whitespace become one space), mentions as words."""
    return " ".join(slack_to_plain(text, decode_entities=False).split())


def check_shows_exactly(text: str, context: str) -> None:
    """The value in its context parses to the same blocks and the same inline formatting as a placeholder does, and
    reads as exactly the text."""
    want = expected(text)
    if not want:
        return
    value = inert_markdown(text)
    template = CONTEXTS[context]
    document = template.replace("{}", value)
    reference = template.replace("{}", "PLACEHOLDER")
    assert blocks(document) == blocks(reference), f"{text!r} changed the document's blocks: {document!r}"
    (types, shown), = [shape(run) for run in inlines(document)[-1:]]
    ref_types, ref_shown = shape(inlines(reference)[-1])
    assert types == ref_types, f"{text!r} added formatting: {types} in {document!r}"
    assert shown.replace(WORD_JOINER, "") == ref_shown.replace("PLACEHOLDER", want), f"{text!r} shows as {shown!r}: {document!r}"


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("text", HOSTILE + PLAIN)
def test_hostile_and_plain_text_shows_exactly_as_typed(text: str, context: str) -> None:
    check_shows_exactly(text, context)


def test_the_list_context_shows_the_label_bold_and_only_that() -> None:
    children = inlines(CONTEXTS["list"].format(inert_markdown("*x* [y](http://z)")))[0].children or []
    assert [c.type for c in children].count("strong_open") == 1 and "link_open" not in [c.type for c in children]


@pytest.mark.parametrize("text", PLAIN)
def test_ordinary_text_comes_out_unescaped(text: str) -> None:
    assert inert_markdown(text) == text


def test_escapes_only_what_would_format() -> None:
    assert inert_markdown("5 - 3 (ok) #1") == "5 - 3 (ok) #1"
    assert inert_markdown("# heading") == "\\# heading"
    assert inert_markdown("1. list") == "1\\. list"
    assert inert_markdown("- item") == "\\- item"
    assert inert_markdown("*bold* _x_ snake_case") == "\\*bold\\* \\_x\\_ snake_case"
    assert inert_markdown("[a](http://x)") == "\\[a\\](http\\://x)"
    assert inert_markdown("<script> a < b") == "\\<script> a < b"
    assert inert_markdown("|a|b|") == "\\|a\\|b\\|"
    assert inert_markdown("&amp; AT&T") == "\\&amp; AT&T"
    assert inert_markdown("   lead") == "lead"


@pytest.mark.parametrize("text", ["@channel", "<!channel>", "<!here|here>", "@everyone look", "hey @HERE", "<!everyone>"])
def test_broadcasts_cannot_ping_when_pasted_back_into_slack(text: str) -> None:
    value = inert_markdown(text)
    assert "<!" not in value, "Slack's own broadcast syntax never survives"
    lowered = value.lower()
    assert all(f"@{word}" not in lowered for word in ("channel", "here", "everyone")), value
    assert f"@{WORD_JOINER}" in value  # …yet it reads the same
    rendered = shown_text(inlines(value)[0]).replace(WORD_JOINER, "")
    assert rendered.lower().lstrip("hey ").split()[0].startswith("@")


def test_mentions_inside_text_are_named() -> None:
    names = {"U0L2": "Sam *the* Admin"}
    value = inert_markdown("handed to <@U0L2> and <@U0NOBODY|x>", names.get)
    assert shown_text(inlines(value)[0]) == "handed to @Sam *the* Admin and @U0NOBODY"
    assert who("U0L2", names) == "@Sam \\*the\\* Admin" and who("U0X", names) == "@U0X" and who("sevbot", names) == "sevbot"


def test_links_are_ours_and_go_only_where_they_say() -> None:
    value = link("High *error* rate [prod]", "https://grafana.example/d/x?from=now-1h&to=now (a)|b <c>")
    tokens = inlines(f"| {value} |\n|---|\n")[0].children or []
    assert [t.type for t in tokens] == ["link_open", "text", "link_close"]
    assert tokens[1].content == "High *error* rate [prod]"
    assert tokens[0].attrs["href"] == "https://grafana.example/d/x?from=now-1h&to=now%20%28a%29%7Cb%20%3Cc%3E"
    assert link("x", "javascript:alert(1)") == "x" and "href" not in html(link("x", "javascript:alert(1)"))


SPECIALS = list("\\`*_{}[]()#+-.!|~<>&@:/=\"' \n\t") + ["<@U0L2>", "<!channel>", "&amp;", "http://", "www.", "1. ",
                                                       "    ", "---", "```", "@channel", "a@b.co"]
TEXT = st.lists(st.sampled_from(SPECIALS) | st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters=WORD_JOINER),
                max_size=24).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=TEXT, context=st.sampled_from(sorted(CONTEXTS)))
@example(text="\\0http://http://", context="cell")  # found by CI: linkify takes a scheme right after a digit
def test_any_text_shows_exactly_as_typed_and_never_formats(text: str, context: str) -> None:
    check_shows_exactly(text, context)


def test_times_read_like_a_person_writes_them() -> None:
    start = "2026-12-02T02:54:13.120000+00:00"
    assert time_of_day("2026-12-02T02:58:18.536318+00:00") == "02:58:18 UTC"
    assert stamp("2026-12-02T02:58:18.536318+00:00") == "2026-12-02 02:58:18 UTC"
    assert t_plus("2026-12-02T02:58:18.536318+00:00", start) == "T+04:05"
    assert t_plus("2026-12-02T03:56:16+00:00", start) == "T+1:02:02"
    assert t_plus("2026-12-03T04:54:13.12+00:00", start) == "T+26:00:00"
    assert t_plus("2026-12-02T02:53:43.12+00:00", start) == "T-00:30"
    days = Days()
    assert [days.at(t) for t in ("2026-12-02T23:59:00+00:00", "2026-12-02T23:59:30+00:00", "2026-12-03T00:00:01+00:00")] == [
        "2026-12-02 23:59:00 UTC", "23:59:30 UTC", "2026-12-03 00:00:01 UTC"]
    groups = by_day([{"at": "2026-12-02T23:59:00+00:00"}, {"at": "2026-12-03T00:00:01+00:00"}, {"at": "2026-12-03T01:00:00+00:00"}])
    assert [(day, len(rows)) for day, rows in groups] == [("2026-12-02", 1), ("2026-12-03", 2)]
