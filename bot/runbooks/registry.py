"""The runbooks loaded at start, and which ones fit an incident."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.runbooks.model import Runbook

MAX_OFFERED = 3  # buttons on the card; `/incident runbook` lists the rest


@dataclass(frozen=True)
class RunbookRegistry:
    runbooks: dict[str, Runbook] = field(default_factory=dict)

    def get(self, name: str) -> Runbook | None:
        return self.runbooks.get(name)

    def matching(self, *, title: str, service: str | None, severity: str) -> list[Runbook]:
        return [r for r in self.runbooks.values() if r.matches(title=title, service=service, severity=severity)]

    def offered(self, *, title: str, service: str | None, severity: str) -> list[Runbook]:
        return self.matching(title=title, service=service, severity=severity)[:MAX_OFFERED]
