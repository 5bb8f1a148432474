"""Covers from Slack: `/incident oncall cover` puts someone on call in place of the rota from now, and the Remove
button on `/incident oncall overrides` takes a cover back.

Each is one unit of work: the override row (oncall-core's `bot/oncall/overrides.py`), the DM to the person replaced
(an outbox item), and the schedule's hand-off timer moved (the person on call changed, so the next hand-off did).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from bot.core.deps import Deps
from bot.core.errors import BadInput
from bot.core.people import check_person
from bot.core.outbox import enqueue
from bot.db.models import OncallOverride
from bot.domain.mentions import user_id_from_mention
from bot.domain.text import escape_mrkdwn, truncate
from bot.oncall.handoff import next_change, overrides_near, schedule_zone, sync_schedule
from bot.oncall.overrides import add_override, remove_override
from bot.oncall.rotation import on_call_at
from bot.oncall.show import at_local, slack_date
from bot.oncall.when import WHEN_HELP, cover_end
from bot.oncall.zones import Zone
from bot.slack.gateway import SlackError

COVER_USAGE = "`/incident oncall cover <schedule> [@who] <2h | until 18:00 | 2026-01-12 09:00>`"


@dataclass(frozen=True)
class CoverRequest:
    schedule: str
    who: str | None  # None: the speaker covers
    when: str


def known_schedules(deps: Deps) -> str:
    names = sorted(deps.config.schedules)
    if not names:
        return "No on-call schedules are configured (see docs/oncall.md)."
    return "Schedules: " + ", ".join(f"`{escape_mrkdwn(name)}`" for name in names) + "."


def schedule_named(deps: Deps, name: str) -> str:
    """The schedule's name as configured, or a BadInput that lists the ones there are."""
    if name in deps.config.schedules:
        return name
    folded = {known.lower(): known for known in deps.config.schedules}
    if name.lower() in folded:
        return folded[name.lower()]
    raise BadInput(f"I know no on-call schedule `{escape_mrkdwn(truncate(name, 60))}`. {known_schedules(deps)}")


def parse_cover(deps: Deps, args: str) -> CoverRequest:
    """`<schedule> [@who] <when>` (the words after `cover`); only what needs no Slack call is checked here."""
    words = args.split()
    if not words:
        raise BadInput(f"Usage: {COVER_USAGE}. {known_schedules(deps)}")
    schedule = schedule_named(deps, words[0])
    who = user_id_from_mention(words[1]) if len(words) > 1 else None
    rest = words[2:] if who is not None else words[1:]
    if who is None and rest and rest[0].startswith("@"):
        raise BadInput(f"Mention the person (`@name`, picked from Slack's list) so Slack fills in who they are. Usage: {COVER_USAGE}")
    if not rest:
        raise BadInput(f"Until when? {WHEN_HELP[0].upper()}{WHEN_HELP[1:]}. Usage: {COVER_USAGE}")
    return CoverRequest(schedule, who, " ".join(rest))


def check_coverer(deps: Deps, user_id: str) -> None:
    """The person must be someone Slack knows and who can be woken up: not deleted, not a bot (asks Slack)."""
    try:
        check_person(deps.people, user_id, needs_a_person="on call needs a person")
    except SlackError as problem:  # Slack down or refusing: say so rather than record a cover for someone unchecked
        raise BadInput(f"Slack did not say who <@{user_id}> is ({problem.code}); nothing was recorded, try again.") from None


def cover(deps: Deps, request: CoverRequest, speaker: str, zone: Zone, idempotency_key: str) -> str:
    """Record the cover and answer the speaker (in their zone). A repeat of the same command changes nothing."""
    who = request.who or speaker
    if request.who is not None:
        check_coverer(deps, request.who)
    now = deps.clock.now()
    end = cover_end(request.when, now, zone.zone)
    schedule = deps.config.schedules[request.schedule]
    with deps.db.unit_of_work() as session:
        if session.scalar(select(OncallOverride.id).where(OncallOverride.idempotency_key == idempotency_key)) is not None:
            return "That cover is already recorded."
        overrides = overrides_near(session, request.schedule, now)
        before = on_call_at(schedule, now, overrides)
        replaced = [o for o in overrides if o.start < end and o.end > now and o.user != who]
        override = add_override(session, schedule=request.schedule, user_id=who, starts_at=now, ends_at=end, created_by=speaker,
                                now=now, replaced_user_id=before.user if before else None, idempotency_key=idempotency_key)
        session.flush()
        if before is not None and before.user != who:
            by = "" if speaker == who else f" (<@{speaker}> arranged it)"
            enqueue(session, deps.clock, kind="dm", dedupe_key=f"oncall_cover:{override.id}", payload={
                "user": before.user,
                "text": (f":arrows_counterclockwise: <@{who}> is covering *{escape_mrkdwn(request.schedule)}* for you from now "
                         f"until {slack_date(end, schedule_zone(schedule))}{by}. You are off call until then.")})
        sync_schedule(session, deps, request.schedule)
    lines = [f":white_check_mark: {'You are' if who == speaker else f'<@{who}> is'} on call for *{escape_mrkdwn(request.schedule)}* "
             f"from now until {at_local(end, zone.zone, now)}"
             + (f", in place of <@{before.user}>." if before is not None and before.user != who else ".")]
    for old in replaced:
        lines.append(f"This replaces <@{old.user}>'s cover until {at_local(old.end, zone.zone, now)}"
                     + (f" (theirs resumes at {at_local(end, zone.zone, now)})." if old.end > end else "."))
    if not zone.from_profile:
        lines.append("_Times are in UTC: Slack has no time zone in your profile._")
    return "\n".join(lines)


def remove_cover(deps: Deps, override_id: int, remover: str, zone: Zone) -> str:
    """Take a cover back (a second click finds it gone and says so); whoever is on call instead hears of it."""
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        # Locked: of two clicks at once, the second waits here and then finds it removed.
        row = session.scalar(select(OncallOverride).where(OncallOverride.id == override_id).with_for_update())
        if row is None:
            raise BadInput("That override does not exist; nothing changed.")
        if row.removed_at is not None or remove_override(session, override_id, removed_by=remover, now=now) is None:
            return f"That cover by <@{row.user_id}> on *{escape_mrkdwn(row.schedule)}* was already removed; nothing changed."
        schedule = deps.config.schedules.get(row.schedule)
        line = f":wastebasket: Removed <@{row.user_id}>'s cover on *{escape_mrkdwn(row.schedule)}*."
        if schedule is not None and _as_utc(row.starts_at) <= now < _as_utc(row.ends_at):
            overrides = overrides_near(session, row.schedule, now)
            back = on_call_at(schedule, now, overrides)
            if back is not None and back.user != row.user_id:
                until = next_change(schedule, now, overrides)
                line += f" <@{back.user}> is on call again" + (f" until {at_local(until, zone.zone, now)}." if until else ".")
                if back.user != remover:
                    when = f" until {slack_date(until, schedule_zone(schedule))}" if until else ""
                    enqueue(session, deps.clock, kind="dm", dedupe_key=f"oncall_uncover:{override_id}", payload={
                        "user": back.user,
                        "text": (f":arrows_counterclockwise: <@{remover}> removed <@{row.user_id}>'s cover: you are on call "
                                 f"for *{escape_mrkdwn(row.schedule)}* again{when}.")})
        if schedule is not None:
            sync_schedule(session, deps, row.schedule)
    return line


def _as_utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
