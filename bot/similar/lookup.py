"""`/incident similar`: the list on demand, read-only, for an incident or for a person's words."""
from __future__ import annotations

from sqlalchemy import select

from bot.core.deps import Deps
from bot.core.errors import BadInput
from bot.db.models import Incident
from bot.domain.incident import human_id
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.similar import message
from bot.similar.search import similar_to_incident, similar_to_text

MAX_TEXT = 500
USAGE = ("Say what happened, e.g. `/incident similar checkout timeouts after deploy`; "
         "or run `/incident similar` in an incident's channel to see past incidents like it.")


def similar_answer(deps: Deps, incident_id: int | None, text: str) -> str:
    """The answer: past incidents like the incident (no text) or like `text` (anywhere; in an incident's channel,
    of its service and leaving it out)."""
    text = text.strip()
    if not text and incident_id is None:
        raise BadInput(USAGE)
    if len(text) > MAX_TEXT:
        raise BadInput(f"Keep it under {MAX_TEXT} characters ({len(text):,} given): a title's worth of words is enough.")
    with deps.db.reading() as session:  # a read: it never queues behind (or holds up) a write
        if not text:
            assert incident_id is not None
            found = similar_to_incident(session, incident_id)
            about = human_id(incident_id)
        else:
            service = session.scalar(select(Incident.service).where(Incident.id == incident_id)) if incident_id else None
            found = similar_to_text(session, text, service=service, exclude=incident_id, now=deps.clock.now())
            about = f"“{escape_mrkdwn(truncate(one_line(text), 80))}”"
    if not found:
        return (f":mag: No past incident looks similar to {about}. "
                "Try other words: the service, the symptom, the alert's name.")
    return message.answer(found, deps.config, f":mag: *Past incidents similar to {about}* (only you see this)")
