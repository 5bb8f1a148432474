"""The on-call tests' policy and probes: two schedules in Berlin, a bot with a movable clock, DMs read back."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from bot.config import IncidentConfig, Layer, Restriction, Schedule
from bot.slack_sim.state import Message
from tests.harness import Bot, paging_config

# Wednesday 14 January 2026, 12:00 UTC (13:00 in Berlin). The payments rota: Lee from Mon 5 Jan 09:00 Berlin, Sam
# from Mon 12 Jan, Lee again from Mon 19 Jan 09:00 (08:00 UTC).
WEDNESDAY_NOON = datetime(2026, 1, 14, 12, 0, tzinfo=timezone.utc)
NEXT_HANDOFF = datetime(2026, 1, 19, 8, 0, tzinfo=timezone.utc)


def weekly(users: tuple[str, ...], name: str = "primary", **extra: Any) -> Layer:
    return Layer(name=name, users=users, rotation="weekly", handoff="09:00", start=date(2026, 1, 5), **extra)


def oncall_config(**schedules: Schedule) -> IncidentConfig:
    """`payments` (Lee and Sam weekly, its user group S0ONCALL follows the rota) and `database` (Ines on weekdays
    09:00-18:00, nobody else), both in Europe/Berlin; with the paging ladder of tests/harness.py."""
    default = {
        "payments": Schedule(time_zone="Europe/Berlin", usergroup="S0ONCALL", calendar_secret="payments-calendar-secret",
                             layers=(weekly(("U0L1", "U0L2")),)),
        "database": Schedule(time_zone="Europe/Berlin", calendar_secret="database-calendar-secret", layers=(
            weekly(("U0IC",), name="business", restrictions=(Restriction(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="18:00"),)),)),
    }
    return paging_config(schedules=default | schedules)


def dms(bot: Bot, user: str) -> list[Message]:
    channel = bot.sim.workspace.dm_channel(user)
    return bot.sim.workspace.messages(channel.id) if channel is not None else []


def handoff_dms(bot: Bot, user: str, schedule: str = "payments") -> list[Message]:
    return [m for m in dms(bot, user) if "you are now on call for" in m.text and f"*{schedule}*" in m.text]
