"""How a page walks its ladder, whoever it belongs to (an incident or an alert group): the tier's targets and
timeout, the step up on a timeout, and how long an acknowledgement took. Pure: the callers record and notify."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.db.models import Page

PAGING, ACKED, EXHAUSTED, CANCELLED = "paging", "acked", "exhausted", "cancelled"


def tier_targets(page: Page, *, include_contact: bool = False) -> list[str]:
    """Who the page's current tier pages (with the escalation contact, on the critical path)."""
    tier = page.policy["tiers"][page.tier]
    return list(tier["targets"]) + (list(page.policy.get("escalation_contact") or []) if include_contact else [])


def ladder_has_anyone(policy: dict[str, Any]) -> bool:
    """Does some tier of a snapshotted ladder name anyone (its schedules' shifts may all be empty)?"""
    return any(tier["targets"] for tier in policy["tiers"])


def nobody_on_call(policy: dict[str, Any]) -> list[str]:
    """The schedules of a snapshotted ladder whose shift was empty when it was snapshotted."""
    names = [choice["schedule"] for tier in policy["tiers"] for choice in tier.get("on_call", []) if not choice["user"]]
    return list(dict.fromkeys(names))


def skip_unstaffed(page: Page, now: datetime) -> list[str]:
    """Step past tiers with nobody to page (their schedules' shifts are empty and they name no one else), with a
    line for each. The ladder may run out on the way: then the page is exhausted (see page.state)."""
    notes: list[str] = []
    while page.state == PAGING and not page.policy["tiers"][page.tier]["targets"]:
        tier = page.policy["tiers"][page.tier]
        empty = ", ".join(choice["schedule"] for choice in tier.get("on_call", []) if not choice["user"]) or "its schedules"
        number = page.tier + 1
        moved = step_up(page, now)
        notes.append(f"Tier {number}: nobody is on call for {empty}"
                     + (f", paging tier {page.tier + 1} at once" if moved else ", and no tier is left"))
    return notes


def describe_targets(page: Page, targets: list[str]) -> str:
    """Mentions of who a tier pages, each person chosen by a schedule marked: "<@U0LEE> (on call for payments)"."""
    return describe(targets, page.policy["tiers"][page.tier].get("on_call", []))


def describe(targets: list[str], on_call: list[dict[str, Any]]) -> str:
    """`targets` as mentions, marking who a schedule chose, and naming the schedules with nobody on call."""
    why: dict[str, list[str]] = {}
    for choice in on_call:
        if choice["user"]:
            why.setdefault(choice["user"], []).append(choice["schedule"])
    parts = [mention(t) + (f" (on call for {', '.join(why[t])})" if t in why else "") for t in targets]
    empty = [choice["schedule"] for choice in on_call if not choice["user"]]
    return ", ".join(parts + ([f"nobody on call for {', '.join(empty)}"] if empty else []))


def tier_timeout(page: Page) -> timedelta:
    return timedelta(seconds=page.policy["tiers"][page.tier]["ack_timeout_s"])


def step_up(page: Page, now: datetime) -> bool:
    """Nobody acknowledged in time: move to the next tier, or the next round from tier 1. False (and the page
    marked exhausted) when the ladder has been walked as many times as the policy says."""
    if page.tier + 1 < len(page.policy["tiers"]):
        page.tier += 1
        return True
    if page.round < page.policy["repeat"]:
        page.round += 1
        page.tier = 0
        return True
    page.state, page.ended_at = EXHAUSTED, now
    return False


def mark_acknowledged(page: Page, user: str, now: datetime) -> str:
    """Stop the ladder for `user`; returns how long it took, as "4m05s"."""
    page.state, page.acked_by, page.acked_at, page.ended_at = ACKED, user, now, now
    seconds = int((now - page.started_at).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"


def mention(target: str) -> str:
    return f"<!subteam^{target}>" if target.startswith("S") else f"<@{target}>"
