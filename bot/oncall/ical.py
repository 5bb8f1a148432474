"""A schedule's rota as an iCalendar feed (RFC 5545): the few lines it needs, written here (escaping, CRLF line
ends, lines folded at 75 octets) rather than through a library for one read-only VCALENDAR."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from bot.oncall.rotation import Shift

PRODID = "-//sevbot//on-call schedules//EN"


def escape_text(value: str) -> str:
    """RFC 5545 3.3.11 TEXT: backslash, semicolon, comma and newlines escaped."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on the next line after CRLF and one space, never
    splitting a UTF-8 character."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with the space
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def utc_stamp(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def shift_uid(schedule: str, shift: Shift) -> str:
    """Stable across fetches while the shift stays as it is, so calendar clients update rather than duplicate."""
    key = f"{schedule}|{shift.user}|{shift.layer}|{shift.override_id}|{utc_stamp(shift.start)}|{utc_stamp(shift.end)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + "@sevbot"


def render_calendar(schedule: str, shifts: Iterable[Shift], now: datetime, name_of: Callable[[str], str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(f'On call: {schedule}')}"]
    stamp = utc_stamp(now)
    for shift in shifts:
        source = "override" if shift.override_id is not None else f"layer {shift.layer}"
        lines += ["BEGIN:VEVENT", f"UID:{shift_uid(schedule, shift)}", f"DTSTAMP:{stamp}",
                  f"DTSTART:{utc_stamp(shift.start)}", f"DTEND:{utc_stamp(shift.end)}",
                  f"SUMMARY:{escape_text(f'On call: {name_of(shift.user)} ({schedule})')}",
                  f"DESCRIPTION:{escape_text(f'Slack user {shift.user}, {source} of {schedule}')}",
                  "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
