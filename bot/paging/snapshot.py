"""The ladder a page walks, snapshotted when it starts: timeouts resolved, and each `schedule:<name>` target replaced
by whoever is on call then (overrides included), so a hand-off or a config edit mid-escalation changes nothing."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import SCHEDULE_TARGET, EscalationPolicy, Schedule, Tier
from bot.core.deps import Deps
from bot.oncall.lookup import on_call_now


def snapshot_ladder(deps: Deps, session: Session, policy: EscalationPolicy) -> dict[str, Any]:
    tiers = resolve_schedules(session, deps.config.schedules, policy.tiers, deps.clock.now())
    return deps.timing.snapshot_policy(tiers, policy.repeat, list(policy.escalation_contact))


def resolve_schedules(session: Session, schedules: dict[str, Schedule], tiers: tuple[Tier, ...],
                      at: datetime) -> list[dict[str, Any]]:
    """Each tier with its schedules resolved to people; `on_call` records each choice (user None: nobody on call)."""
    resolved: list[dict[str, Any]] = []
    for tier in tiers:
        targets: list[str] = []
        on_call: list[dict[str, str | None]] = []
        for target in tier.targets:
            named = SCHEDULE_TARGET.match(target)
            if named is None:
                targets.append(target)
                continue
            shift = on_call_now(session, named.group(1), schedules[named.group(1)], at)
            on_call.append({"schedule": named.group(1), "user": shift.user if shift else None})
            if shift is not None:
                targets.append(shift.user)
        resolved.append({"targets": list(dict.fromkeys(targets)), "ack_timeout_minutes": tier.ack_timeout_minutes,
                         "on_call": on_call})
    return resolved
