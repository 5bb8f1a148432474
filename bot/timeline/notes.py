"""Notes, and messages people pin (or mark with the pin reaction) in the incident channel, on the timeline."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from bot.db.models import TimelineEvent
from bot.domain.text import escape_mrkdwn
from bot.core.outbox import enqueue
from bot.core.deps import Deps
from bot.core.timeline import record
from bot.core.incident import locked_incident
from bot.core.errors import BadInput

MAX_NOTE = 2900  # it is posted in a section block (3,000 characters) with a short prefix


def add_note(deps: Deps, incident_id: int, text: str, actor: str) -> str:
    text = text.strip()
    if not text:
        raise BadInput("Write the note after the command: `/incident note Rolled back payments-api to v142`.")
    if len(text) > MAX_NOTE:
        raise BadInput(f"Notes are limited to {MAX_NOTE:,} characters ({len(text):,} given); split it in two.")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        incident = locked_incident(session, incident_id)
        event = record(session, incident_id, kind="note", actor=actor, at=now, summary=escape_mrkdwn(text), data={"text": text})
        session.flush()
        if incident.channel_id and event is not None:
            enqueue(session, deps.clock, kind="post", incident_id=incident_id, dedupe_key=f"note:{event.id}",
                    payload={"channel": incident.channel_id, "text": f":memo: Note from <@{actor}>: {escape_mrkdwn(text)}"})
    return ":white_check_mark: Noted on the timeline."


def pinned_key(channel_id: str, ts: str) -> str:
    return f"pinned:{channel_id}:{ts}"


def message_pinned(deps: Deps, incident_id: int, *, channel_id: str, ts: str, source: str, actor: str,
                   message: dict[str, Any] | None, permalink: str | None, label: str = "Pinned message") -> bool:
    """Add a channel message to the timeline (once per channel+ts); `source` says which pin, reaction or shortcut
    holds it, `label` how the summary names it. False when that source had already added it."""
    key = pinned_key(channel_id, ts)
    with deps.db.unit_of_work() as session:
        existing = session.scalar(select(TimelineEvent).where(TimelineEvent.dedupe_key == key).with_for_update())
        if existing is not None:
            sources = set(existing.data.get("sources", []))
            if source in sources:
                return False
            existing.data = {**existing.data, "sources": sorted(sources | {source})}
            return True
    text = (message or {}).get("text", "")
    author = (message or {}).get("user")
    with deps.db.unit_of_work() as session:
        locked_incident(session, incident_id)
        record(session, incident_id, kind="pinned_message", actor=actor, at=deps.clock.now(),
               summary=f"{label} from <@{author}>: {escape_mrkdwn(text)}" if author else f"{label}: {escape_mrkdwn(text)}",
               data={"channel": channel_id, "ts": ts, "thread_ts": (message or {}).get("thread_ts"), "author": author,
                     "text": text, "permalink": permalink,
                     "message_time": _ts_time(ts, deps), "sources": [source]},
               dedupe_key=key)
        # A twin (the same message pinned and reacted to at once) may have inserted first: make sure we count too.
        entry = session.scalar(select(TimelineEvent).where(TimelineEvent.dedupe_key == key).with_for_update())
        if entry is not None and source not in entry.data.get("sources", []):
            entry.data = {**entry.data, "sources": sorted({*entry.data.get("sources", []), source})}
    return True


def message_unpinned(deps: Deps, *, channel_id: str, ts: str, source: str) -> bool:
    """Drop one source; the timeline entry goes when no pin or reaction holds it any more."""
    key = pinned_key(channel_id, ts)
    with deps.db.unit_of_work() as session:
        existing = session.scalar(select(TimelineEvent).where(TimelineEvent.dedupe_key == key).with_for_update())
        if existing is None:
            return False
        sources = set(existing.data.get("sources", [])) - {source}
        if sources:
            existing.data = {**existing.data, "sources": sorted(sources)}
        else:
            session.execute(delete(TimelineEvent).where(TimelineEvent.id == existing.id))
        return True


def _ts_time(ts: str, deps: Deps) -> str:
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(float(ts), tz=timezone.utc).isoformat()
    except ValueError:
        return deps.clock.now().isoformat()
