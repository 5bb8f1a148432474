"""Escaping user text for Slack mrkdwn so it can never ping `@channel` or break a message."""
from __future__ import annotations


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
