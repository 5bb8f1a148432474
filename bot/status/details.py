"""Title and service changes: what the incident is about, as the team learns it. The card and topic follow, and
sevbot looks again for similar past incidents (bot/similar/notice.py)."""
from __future__ import annotations

from bot.core.deps import Deps
from bot.core.errors import BadInput
from bot.core.incident import card_changed, locked_incident
from bot.core.timeline import record
from bot.declare.record import MAX_TITLE
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.similar.notice import refresh_notice

NO_SERVICE = "none"


def retitle(deps: Deps, incident_id: int, title: str, actor: str) -> str:
    title = one_line(title)
    if not title:
        raise BadInput("Usage: `/incident title <what is happening, in a few words>`.")
    if len(title) > MAX_TITLE:
        raise BadInput(f"Keep the title under {MAX_TITLE:,} characters ({len(title):,} given).")
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        previous = incident.title
        if previous == title:
            return f"{human_id(incident_id)} already has that title."
        incident.title = title
        record(session, incident_id, kind="title_changed", actor=actor, at=deps.clock.now(),
               summary=f"Title: {escape_mrkdwn(truncate(previous, 200))} → {escape_mrkdwn(truncate(title, 200))}",
               data={"from": previous, "to": title})
        card_changed(session, deps.clock, incident)
        refresh_notice(session, deps.clock, incident_id)
    return f":white_check_mark: {human_id(incident_id)} is now titled “{escape_mrkdwn(truncate(title, 200))}”."


def set_service(deps: Deps, incident_id: int, service: str, actor: str) -> str:
    services = deps.config.services
    wanted = service.strip().lower()
    if not wanted:
        raise BadInput(f"Usage: `/incident service <{'|'.join(services)}|{NO_SERVICE}>`.")
    chosen = None if wanted == NO_SERVICE else next((s for s in services if s.lower() == wanted), None)
    if chosen is None and wanted != NO_SERVICE:
        raise BadInput(f"`{escape_mrkdwn(truncate(service, 40))}` is not a service. Services: {', '.join(services)} "
                       f"(or `{NO_SERVICE}`).")
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        previous = incident.service
        if previous == chosen:
            return f"{human_id(incident_id)} is already on {chosen or 'no service'}."
        incident.service = chosen
        record(session, incident_id, kind="service_changed", actor=actor, at=deps.clock.now(),
               summary=f"Service: {previous or 'none'} → {chosen or 'none'}", data={"from": previous, "to": chosen})
        card_changed(session, deps.clock, incident)
        refresh_notice(session, deps.clock, incident_id)
    return f":white_check_mark: {human_id(incident_id)} affects {chosen or 'no particular service'} now."
