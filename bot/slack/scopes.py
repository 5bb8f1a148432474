"""The bot-token scopes sevbot asks for, and what stops working without each.

The keys are manifest.yml's `oauth_config.scopes.bot` (tests/test_manifest.py keeps the two equal). A workspace that
installed the app from an older manifest was granted fewer; Slack then answers those calls `missing_scope`, deep in
some incident. Start-up compares this list with the scopes Slack says the token has (the `x-oauth-scopes` header of
auth.test) and names what is missing, and what it costs, in one warning.
"""
from __future__ import annotations

from collections.abc import Iterable

NEEDED: dict[str, str] = {
    "commands": "/incident and the message shortcut",
    "channels:manage": "creating incident channels, inviting, topics, archiving",
    "channels:read": "finding a channel sevbot made when Slack says name_taken",
    "channels:join": "joining the stakeholder channel to announce",
    "chat:write": "every message",
    "pins:write": "pinning the incident card",
    "usergroups:read": "paging a user group",
    "usergroups:write": "keeping an on-call user group current",
    "files:write": "uploading the postmortem draft and the insights picture",
    "im:write": "opening a DM for an upload or a retried DM's look",
    "users:read": "role checks, time zones and names in the postmortem",
    "channels:history": "a retried post looking for the first (it may repeat), pinned messages' text",
    "im:history": "a retried DM looking for the first (it may repeat)",
    "reactions:read": "the pin reaction adding to the timeline",
    "pins:read": "pinned messages joining the timeline",
}


def missing(granted: Iterable[str]) -> list[str]:
    """The scopes sevbot needs that the token lacks, in the manifest's order."""
    have = set(granted)
    return [scope for scope in NEEDED if scope not in have]


def missing_warning(granted: Iterable[str]) -> str | None:
    """One line for the log, or None when nothing is missing."""
    lacking = missing(granted)
    if not lacking:
        return None
    costs = "; ".join(f"{scope} ({NEEDED[scope]})" for scope in lacking)
    return (f"the installed Slack app lacks {len(lacking)} scope(s) sevbot needs: {costs}. Reinstall the app from "
            "manifest.yml (README, 'Slack app set-up') to grant them")
