"""A runbook as loaded: plain frozen values, also what a started run snapshots into the database."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any



@dataclass(frozen=True)
class Step:
    title: str
    detail: str = ""
    expected: str | None = None
    escalate_on_failure: bool = False


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    owner: str
    steps: tuple[Step, ...]
    services: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def matches(self, *, title: str, service: str | None, severity: str) -> bool:
        """Offered when any list matches: the service, a keyword among the title's words, or the severity."""
        words = {w.strip(".,:;!?()[]'\"").lower() for w in title.split()}
        return bool(
            (service is not None and service in self.services)
            or words & set(self.keywords)
            or severity in self.severities
        )

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source", None)
        return data

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> "Runbook":
        steps = tuple(Step(**step) for step in data["steps"])
        return cls(
            name=data["name"], title=data["title"], owner=data["owner"], steps=steps,
            services=tuple(data.get("services", ())), keywords=tuple(data.get("keywords", ())),
            severities=tuple(data.get("severities", ())),
        )
