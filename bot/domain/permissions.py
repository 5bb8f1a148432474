"""Permission rules from config: "anyone", "ic", user ids and user group ids."""
from __future__ import annotations

from collections.abc import Callable, Iterable


def allowed(rule: Iterable[str], user_id: str, current_ic: str | None, group_members: Callable[[str], Iterable[str]]) -> bool:
    """True when any token lets `user_id` act; group membership is looked up only when a group token is reached."""
    for token in rule:
        if token == "anyone" or token == user_id or (token == "ic" and user_id == current_ic):
            return True
        if token.startswith("S") and user_id in set(group_members(token)):
            return True
    return False


def describe(rule: Iterable[str]) -> str:
    words = []
    for token in rule:
        words.append({"anyone": "anyone", "ic": "the Incident Commander"}.get(token) or (f"<!subteam^{token}>" if token.startswith("S") else f"<@{token}>"))
    return " or ".join(words)
