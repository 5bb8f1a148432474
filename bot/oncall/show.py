"""How on-call times read: in the reader's own zone ("Mon 09:00 CET"), and in a DM as Slack's date token, which
Slack shows in each reader's zone (the fallback text names the schedule's zone)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def at_local(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """`Mon 09:00 CET`, with the date when it is a week or more away, so a weekday is never ambiguous."""
    local = at.astimezone(zone)
    if abs(at - now) >= timedelta(days=6):
        return local.strftime("%a %d %b %H:%M %Z")
    return local.strftime("%a %H:%M %Z")


def span_local(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """`Mon 12 Jan 09:00 – Mon 19 Jan 09:00 CET` (the zone named once)."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.tzname() == last.tzname():
        return f"{first.strftime('%a %d %b %H:%M')} – {last.strftime('%a %d %b %H:%M %Z')}"
    return f"{first.strftime('%a %d %b %H:%M %Z')} – {last.strftime('%a %d %b %H:%M %Z')}"


def slack_date(at: datetime, fallback_zone: ZoneInfo) -> str:
    """Slack's `<!date^…>` token: each reader sees the time in their own zone; the fallback names the schedule's."""
    fallback = at.astimezone(fallback_zone).strftime("%a %d %b %H:%M %Z")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
