"""Building schedules for the on-call tests without a TOML file."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.config import Schedule

UTC = timezone.utc


def schedule(zone: str, *layers: dict[str, Any], **extra: Any) -> Schedule:
    return Schedule.model_validate({"time_zone": zone, "layers": list(layers), **extra})


def layer(name: str = "primary", users: tuple[str, ...] = ("U0LEE", "U0SAM", "U0KIM"), rotation: str = "daily",
          handoff: str = "09:00", start: str = "2027-01-04", **extra: Any) -> dict[str, Any]:
    return {"name": name, "users": list(users), "rotation": rotation, "handoff": handoff, "start": start, **extra}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
