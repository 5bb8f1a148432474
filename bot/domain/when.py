"""Times as a postmortem reader wants them: `02:58:18 UTC`, the date once per day, and `T+04:05` from the declare.

They take the ISO 8601 strings of the export document (so a JSON export read back renders the same), and drop the
fraction of a second: nobody reads microseconds in a postmortem.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache


def _parse(value: str | datetime) -> datetime:
    return _parse_iso(value) if isinstance(value, str) else _utc(value)


@lru_cache(maxsize=4096)  # the declare time is read once per row; a draft has a few thousand distinct times at most
def _parse_iso(value: str) -> datetime:
    return _utc(datetime.fromisoformat(value))


def _utc(at: datetime) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def time_of_day(value: str | datetime | None) -> str:
    """`02:58:18 UTC`."""
    return _parse(value).strftime("%H:%M:%S UTC") if value else ""


def day_of(value: str | datetime | None) -> str:
    """`2026-12-02` (UTC)."""
    return _parse(value).strftime("%Y-%m-%d") if value else ""


def stamp(value: str | datetime | None) -> str:
    """`2026-12-02 02:58:18 UTC`: a time on its own, with its date."""
    return f"{day_of(value)} {time_of_day(value)}" if value else ""


def t_plus(value: str | datetime | None, start: str | datetime | None) -> str:
    """Whole seconds since the declare: `T+04:05` (minutes and seconds) within the first hour, `T+1:02:03` after it
    (hours keep counting past a day: `T+26:00:00`); `T-00:30` before the declare."""
    if not value or not start:
        return ""
    seconds = int((_parse(value) - _parse(start)).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"T{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"T{sign}{minutes:02d}:{secs:02d}"


class Days:
    """Times down a table: the first of each day carries its date (`2026-12-02 02:58:18 UTC`), the rest only the
    time (`02:58:18 UTC`). One per table, used in row order."""

    def __init__(self) -> None:
        self._day: str | None = None

    def at(self, value: str | datetime | None) -> str:
        if not value:
            return ""
        day = day_of(value)
        if day == self._day:
            return time_of_day(value)
        self._day = day
        return stamp(value)


def by_day(rows: list[dict[str, object]], key: str = "at") -> list[tuple[str, list[dict[str, object]]]]:
    """Rows in time order, grouped under their UTC date, in order: [(`2026-12-02`, rows), …]."""
    groups: list[tuple[str, list[dict[str, object]]]] = []
    for row in rows:
        day = day_of(str(row[key]))
        if not groups or groups[-1][0] != day:
            groups.append((day, []))
        groups[-1][1].append(row)
    return groups
