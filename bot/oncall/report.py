"""What the `sevbot schedules check` and `sevbot oncall show` commands print: gaps as `file:line: key: problem`
lines, and a schedule's shifts as a table. Pure: the CLI reads the files and the database."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import IncidentConfig
from bot.oncall.rotation import Shift, gaps

_TIME = "%Y-%m-%d %H:%M"


def table_lines(text: str) -> dict[str, int]:
    """The line of each schedule's first table in the TOML text (`[schedules.x]` or `[[schedules.x.layers]]`),
    1-based. tomllib keeps no positions, so this reads the headers themselves."""
    found: dict[str, int] = {}
    header = re.compile(r'^\s*\[\[?\s*schedules\s*\.\s*("([^"]+)"|\'([^\']+)\'|[A-Za-z0-9_-]+)')
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            name = match.group(2) or match.group(3) or match.group(1)
            found.setdefault(name, number)
    return found


def local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime(_TIME)


def gap_problems(path: str, text: str, config: IncidentConfig, start: datetime, weeks: int) -> list[str]:
    """One line per time no layer covers in [start, start + weeks)."""
    lines = table_lines(text)
    problems: list[str] = []
    for name, schedule in config.schedules.items():
        for begins, ends in gaps(schedule, start, start + timedelta(weeks=weeks)):
            problems.append(f"{path}:{lines.get(name, 1)}: schedules.{name}: gap {local(begins, schedule.zone)} – "
                            f"{local(ends, schedule.zone)} ({schedule.time_zone})")
    return problems


def shift_table(shifts: list[Shift], start: datetime, end: datetime, zone: ZoneInfo) -> list[str]:
    """The final rota as rows: start, end (in `zone`), who, layer or override; stretches with nobody on call too."""
    rows: list[tuple[str, str, str, str]] = []
    position = start
    for shift in shifts:
        if shift.start > position:
            rows.append((local(position, zone), local(shift.start, zone), "nobody", "gap"))
        source = f"override #{shift.override_id}" if shift.override_id is not None else shift.layer
        rows.append((local(shift.start, zone), local(shift.end, zone), shift.user, source))
        position = shift.end
    if position < end:
        rows.append((local(position, zone), local(end, zone), "nobody", "gap"))
    header = ("start", "end", "who", "layer")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]
