"""Reading the postmortem Markdown back with a real parser (markdown-it-py: CommonMark, plus GFM tables,
strikethrough and bare-URL/e-mail autolinks as GitHub renders them), to prove what a reader sees."""
from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

PARSER = MarkdownIt("commonmark", {"linkify": True}).enable(["table", "strikethrough", "linkify"])
# GitHub links bare http(s)/www URLs and e-mail addresses, not bare domains or `//host`.
PARSER.linkify.set({"fuzzy_link": False, "fuzzy_email": True})
PARSER.linkify.add("//", None)

FORMATTING = {"link_open", "image", "em_open", "strong_open", "code_inline", "html_inline", "s_open", "hardbreak"}


def blocks(markdown: str) -> list[str]:
    """The block structure: token types, inline content left out."""
    return [t.type for t in PARSER.parse(markdown) if t.type != "inline"]


def inlines(markdown: str) -> list[Token]:
    return [t for t in PARSER.parse(markdown) if t.type == "inline"]


def shown_text(inline: Token) -> str:
    """What a reader sees of one inline run: text only, and it must not be formatted."""
    kinds = {child.type for child in inline.children or []}
    assert not kinds & FORMATTING, f"formatting in {inline.content!r}: {kinds & FORMATTING}"
    return "".join(child.content for child in inline.children or [] if child.type in ("text", "text_special"))


def html(markdown: str) -> str:
    return PARSER.render(markdown)


def shape(inline: Token) -> tuple[list[str], str]:
    """(the child token types, with consecutive text merged; all the text a reader sees)."""
    types: list[str] = []
    for child in inline.children or []:
        kind = "text" if child.type == "text_special" else child.type
        if not (types and kind == "text" == types[-1]):
            types.append(kind)
    return types, "".join(c.content for c in inline.children or [] if c.type in ("text", "text_special"))
