"""Escaping user text for Slack mrkdwn so it can never ping `@channel` or break a message."""
from __future__ import annotations

import re


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; `<!channel>` becomes inert `&lt;!channel&gt;`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never splitting an escape like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def one_line(text: str) -> str:
    """Collapse newlines: topics and list rows are single lines."""
    return " ".join(text.split())


_SLACK_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")


def slack_to_plain(text: str, *, decode_entities: bool = True) -> str:
    """Our stored mrkdwn back to plain words: mentions become @U…, #C…; entities are decoded (not for raw text
    people typed, where `&amp;` is what they wrote)."""
    def mention(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "!":
            return "@" + (label or target.split("^")[-1])
        return sigil + (label or target)

    text = _SLACK_MENTION.sub(mention, text)
    if not decode_entities:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn_link(url: str, label: str) -> str:
    """A Slack link to an http(s) URL from an untrusted sender; anything else is shown as plain text. Nothing in
    either part can close the link early or start a mention."""
    shown = escape_mrkdwn(one_line(label)).replace("|", "¦")
    if not url.startswith(("https://", "http://")):
        return shown
    target = escape_mrkdwn(url).replace("|", "%7C").replace(" ", "%20")
    return f"<{target}|{shown}>"
