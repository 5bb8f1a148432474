"""What `/incident oncall` shows: who is on call now and next for each schedule, a schedule's next 7 days, and the
list of overrides with their Remove buttons. Times are in the viewer's zone."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.actions import OverrideButton
from bot.core.deps import Deps
from bot.domain.text import escape_mrkdwn
from bot.ids import ActionId
from bot.oncall.handoff import LOOK_AHEAD, next_change, overrides_near
from bot.oncall.overrides import active_overrides
from bot.oncall.rotation import Shift, on_call_at, schedule_shifts
from bot.oncall.show import at_local, span_local
from bot.oncall.zones import Zone

WEEK = timedelta(days=7)
# Block Kit allows 50 blocks a message: a header, a notice, the overrides, a footnote.
MAX_OVERRIDES = 45
UTC_NOTE = "_Times are in UTC: Slack has no time zone in your profile._"


def _who(shift: Shift | None) -> str:
    if shift is None:
        return "_nobody_"
    return f"<@{shift.user}>" + (" (cover)" if shift.layer == "override" else "")


def now_text(deps: Deps, zone: Zone) -> str:
    """For each schedule: on call now and until when, who is next, and any cover in force."""
    now = deps.clock.now()
    names = sorted(deps.config.schedules)
    if not names:
        return "No on-call schedules are configured (see docs/oncall.md)."
    lines = ["*On call now*"]
    with deps.db.unit_of_work() as session:
        for name in names:
            schedule = deps.config.schedules[name]
            overrides = overrides_near(session, name, now)
            current = on_call_at(schedule, now, overrides)
            change = next_change(schedule, now, overrides)
            following = on_call_at(schedule, change, overrides) if change is not None else None
            until = f" until {at_local(change, zone.zone, now)}" if change is not None else ""
            line = f"• *{escape_mrkdwn(name)}*: {_who(current)}{until}"
            if change is not None:
                line += f"; next {_who(following)}"
            if current is not None and current.layer == "override":
                line += " · _a cover is in force (`/incident oncall overrides`)_"
            lines.append(line)
    lines.append("`/incident oncall <schedule>` shows the next 7 days.")
    if not zone.from_profile:
        lines.append(UTC_NOTE)
    return "\n".join(lines)


def _merged(shifts: list[Shift]) -> list[Shift]:
    """Adjacent shifts of one person read as one."""
    out: list[Shift] = []
    for shift in sorted(shifts, key=lambda s: s.start):
        last = out[-1] if out else None
        if last is not None and last.user == shift.user and last.end == shift.start and last.layer == shift.layer:
            out[-1] = Shift(last.user, last.start, shift.end, last.layer, last.override_id)
        else:
            out.append(shift)
    return out


def week_text(deps: Deps, name: str, zone: Zone) -> str:
    """The schedule's shifts over the next 7 days, gaps named."""
    now = deps.clock.now()
    schedule = deps.config.schedules[name]
    with deps.db.unit_of_work() as session:
        shifts = _merged(schedule_shifts(schedule, now, now + WEEK, overrides_near(session, name, now)))
    lines = [f"*{escape_mrkdwn(name)}: the next 7 days*"]
    cursor = now
    for shift in shifts:
        start, end = max(shift.start, now), min(shift.end, now + WEEK)
        if start > cursor:
            lines.append(f"• {span_local(cursor, start, zone.zone)} · _nobody on call_")
        lines.append(f"• {span_local(start, end, zone.zone)} · {_who(shift)}")
        cursor = end
    if cursor < now + WEEK:
        lines.append(f"• {span_local(cursor, now + WEEK, zone.zone)} · _nobody on call_")
    if not zone.from_profile:
        lines.append(UTC_NOTE)
    return "\n".join(lines)


def overrides_message(deps: Deps, zone: Zone, notice: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The current and future overrides of every schedule, each with a Remove button (its value names the override)."""
    now = deps.clock.now()
    rows: list[tuple[str, Any]] = []
    with deps.db.unit_of_work() as session:
        for name in sorted(deps.config.schedules):
            rows += [(name, window) for window in active_overrides(session, name, now, now + LOOK_AHEAD) if window.end > now]
    rows.sort(key=lambda row: (row[1].start, row[0]))
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notice}})
    title = f"*On-call overrides ({len(rows)})*" if rows else "*On-call overrides*: none now or coming up."
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": title}})
    for name, window in rows[:MAX_OVERRIDES]:
        state = "in force now" if window.start <= now else "coming up"
        blocks.append({
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{escape_mrkdwn(name)}* · <@{window.user}> · {span_local(max(window.start, now), window.end, zone.zone)} · _{state}_"},
            "accessory": {"type": "button", "action_id": ActionId.ONCALL_REMOVE_OVERRIDE, "style": "danger",
                          "text": {"type": "plain_text", "text": "Remove"},
                          "value": OverrideButton(window.id).encode(),
                          "confirm": {"title": {"type": "plain_text", "text": "Remove this cover?"},
                                      "text": {"type": "mrkdwn", "text": f"<@{window.user}> stops covering *{escape_mrkdwn(name)}*; the rota applies again."},
                                      "confirm": {"type": "plain_text", "text": "Remove"},
                                      "deny": {"type": "plain_text", "text": "Keep"}}},
        })
    if len(rows) > MAX_OVERRIDES:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"… and {len(rows) - MAX_OVERRIDES} more."}]})
    if not zone.from_profile:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": UTC_NOTE}]})
    text = "\n".join(filter(None, [notice, title]))
    return text, blocks

