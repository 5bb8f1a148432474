"""Cadences and timeouts, from config with the environment's overrides (SEVBOT_UPDATE_INTERVAL, SEVBOT_ACK_TIMEOUT)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.config import IncidentConfig


@dataclass(frozen=True)
class Timing:
    config: IncidentConfig
    update_override_s: float | None = None
    ack_override_s: float | None = None

    def update_interval(self, severity: str) -> timedelta:
        if self.update_override_s is not None:
            return timedelta(seconds=self.update_override_s)
        minutes = self.config.severities[severity].update_minutes if severity in self.config.severities else 30
        return timedelta(minutes=minutes)

    def ack_timeout_s(self, tier_minutes: float) -> float:
        return self.ack_override_s if self.ack_override_s is not None else tier_minutes * 60

    def runbook_escalation(self) -> timedelta:
        return timedelta(minutes=self.config.runbook_escalation_minutes)

    def snapshot_policy(self, tiers: list[dict[str, Any]], repeat: int, contact: list[str]) -> dict[str, Any]:
        """The ladder as it stands now, timeouts resolved, so later config edits can't change a running page (with
        who was on call for each schedule a tier names, when it was resolved)."""
        return {"tiers": [{"targets": t["targets"], "ack_timeout_s": self.ack_timeout_s(t["ack_timeout_minutes"]),
                           "on_call": t.get("on_call", [])} for t in tiers],
                "repeat": repeat, "escalation_contact": contact}
