"""Incident identity and lifecycle words shared by every flow."""
from __future__ import annotations

import re

SCOPES: dict[str, str] = {"one": "One user", "some": "Some users", "all": "All users"}

_HUMAN_ID = re.compile(r"^INC-([0-9]+)$", re.IGNORECASE)


def human_id(number: int) -> str:
    return f"INC-{number}"


def parse_human_id(text: str) -> int | None:
    match = _HUMAN_ID.match(text.strip())
    return int(match.group(1)) if match else None
