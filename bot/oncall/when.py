"""Reading when a cover ends, as a person types it in `/incident oncall cover`, in that person's own time zone.

Three forms: a duration (`2h`, `90m`, `1h30m`, `3d`, `2 hours`), `until HH:MM` (the next time the speaker's clock
shows it) and a date and time (`2026-01-12 09:00`, with or without `until`). Pure: the caller passes now and the zone.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.core.errors import BadInput

# An override longer than this is a rota change, not a cover: it belongs in the schedule's config.
MAX_COVER = timedelta(days=31)
WHEN_HELP = ("say how long or until when: a duration (`2h`, `90m`, `1h30m`, `3d`), `until 18:00`, or "
             "`2026-01-12 09:00` (your own time zone)")

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d{1,4})\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d)", re.IGNORECASE)
_DURATION = re.compile(rf"^(?:{_PART.pattern}\s*)+$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$")


def parse_duration(text: str) -> timedelta | None:
    """`1h30m` → 90 minutes; None when the text is not a duration."""
    cleaned = text.strip()
    if not cleaned or not _DURATION.match(cleaned):
        return None
    seconds = sum(int(amount) * _UNIT_SECONDS[unit[0].lower()] for amount, unit in _PART.findall(cleaned))
    return timedelta(seconds=seconds)


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall clock in `zone` shows `day clock`; a time the clocks skip (spring forward) is refused
    rather than silently moved by an hour."""
    wall = datetime.combine(day, clock, tzinfo=zone)
    instant = wall.astimezone(timezone.utc)
    if instant.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        raise BadInput(f"{day.isoformat()} {clock.strftime('%H:%M')} does not exist in {zone.key} (the clocks skip it); "
                       "pick another time.")
    return instant


def _clock(hour: str, minute: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise BadInput(f"`{hour}:{minute}` is not a time of day; {WHEN_HELP}.")
    return time(h, m)


def cover_end(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """When a cover typed now in `zone` ends (UTC), checked: in the future and at most MAX_COVER away."""
    words = text.strip()
    if not words:
        raise BadInput(f"Until when? {WHEN_HELP[0].upper()}{WHEN_HELP[1:]}.")
    lowered = words.lower()
    explicit_until = lowered.startswith("until ")
    rest = words[6:].strip() if explicit_until else words
    end: datetime | None = None
    if (duration := parse_duration(rest)) is not None and not explicit_until:
        if duration <= timedelta(0):
            raise BadInput(f"`{words}` is no time at all; {WHEN_HELP}.")
        end = now + duration
    elif match := _CLOCK.match(rest):
        local_now = now.astimezone(zone)
        clock = _clock(match.group(1), match.group(2))
        end = local_instant(local_now.date(), clock, zone)
        if end <= now:  # "until 08:00" said at 22:00 means tomorrow morning
            end = local_instant(local_now.date() + timedelta(days=1), clock, zone)
    elif match := _DATE_TIME.match(rest):
        year, month, day, hour, minute = match.groups()
        try:
            when = date(int(year), int(month), int(day))
        except ValueError:
            raise BadInput(f"`{year}-{month}-{day}` is not a date; {WHEN_HELP}.") from None
        end = local_instant(when, _clock(hour, minute), zone)
    if end is None:
        raise BadInput(f"I can't read `{words}` as a time; {WHEN_HELP}.")
    if end <= now:
        raise BadInput(f"That is in the past ({end.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}); a cover starts now "
                       f"and must end later.")
    if end - now > MAX_COVER:
        raise BadInput(f"A cover lasts at most {MAX_COVER.days} days; for longer, change the schedule's rota in the config.")
    return end
