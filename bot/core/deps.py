"""The narrow dependencies a use case takes: the unit of work, the clock, the policy, its timings and the Slack
gateway. Built once by the composition root (`bot/runtime.py`); a unit test builds one with a fake clock and gateway.

It holds no feature and imports none, so any use case can take it without a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.scheduler.timing import Timing


class People(Protocol):
    """What use cases ask Slack about people; `SlackGateway` is the real one, a dict-backed fake serves unit tests."""

    def user(self, user_id: str) -> Any: ...

    def usergroup_members(self, group_id: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Deps:
    db: Database
    clock: Clock
    config: IncidentConfig
    timing: Timing
    people: People
