"""The one quiet "Has this happened before?" message in an incident's channel (outbox kind `similar_notice`).

Queued by provisioning's finish (in its transaction: a crash can't lose it) and, when a title or service changes,
by that change's use case (`refresh_notice`). Delivery runs the lookup after the declare's ack, on the outbox:

- nothing scores above the threshold and nothing was posted: nothing is posted (no noise);
- the first time something does: one message, tagged with message metadata, recorded in `similar_notices`;
- later (a title or service change): the same message is updated in place with chat.update, and only when the list
  of past incidents changed.

A retried or duplicate delivery never posts twice: the post is reserved in `similar_notices` (the incident is its
key) before Slack is called, and a retry of the reserving delivery first looks for its post by metadata.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import IncidentConfig
from bot.core.outbox import WAITING, NotYet, enqueue, enqueue_keyed
from bot.db.engine import Database
from bot.db.models import Incident, OutboxItem, SimilarNotice
from bot.db.types import UTCDateTime
from bot.similar import message
from bot.similar.search import similar_to_incident
from bot.slack.gateway import CLOCK_SKEW, SlackGateway

NOTICE_KIND = "similar_notice"
# How long a notice may wait for a burst of declares to pass before it goes out anyway.
YIELD_AT_MOST = timedelta(seconds=30)
NOTICES = SimilarNotice.__table__
_STORE = update(NOTICES).where(NOTICES.c.incident_id == bindparam("_id"))
_OUTBOX = OutboxItem.__table__
_PARK = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("_id"))
         .values(due_at=bindparam("until", type_=UTCDateTime()), last_error=WAITING))
_RELEASE = (update(_OUTBOX).where(_OUTBOX.c.kind == NOTICE_KIND, _OUTBOX.c.done_at.is_(None), _OUTBOX.c.last_error == WAITING)
            .values(due_at=bindparam("now", type_=UTCDateTime())).returning(_OUTBOX.c.id))
METADATA = "sevbot_similar"
LOCK_STRIPES = 64  # bounded: one lock per incident would grow with the history


def queue_on_provisioned(connection: Connection, now: datetime, incident_id: int) -> int | None:
    """Provisioning's finish hook: the lookup for the new incident, once (keyed); the new outbox item's id."""
    return enqueue_keyed(connection, now, kind=NOTICE_KIND, payload={"incident_id": incident_id}, incident_id=incident_id,
                         dedupe_key=f"similar:{incident_id}:provisioned")


def refresh_notice(session: Session, clock: Clock, incident_id: int) -> None:
    """For a use case that changed the incident's title or service, in its unit of work: look again after commit.
    Unkeyed on purpose: each change looks again, and a look that finds the same list changes nothing."""
    enqueue(session, clock, kind=NOTICE_KIND, payload={"incident_id": incident_id}, incident_id=incident_id)


class SimilarNotices:
    """The outbox handler. One delivery per incident at a time in this process (striped locks); across replicas the
    reservation row decides who posts.

    It yields to declares: while another one is being provisioned here (`busy`), a notice is parked (`queue`, or
    NotYet with the rest of YIELD_AT_MOST) and the burst's last provisioning releases it (`release_waiting`), so in a
    burst of declares every ack, channel and card comes before any "has this happened before?"."""

    def __init__(self, db: Database, config: IncidentConfig, clock: Clock,
                 busy: Callable[[int], bool] = lambda _incident: False) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.busy = busy
        self._locks = tuple(threading.Lock() for _ in range(LOCK_STRIPES))

    def deliver(self, gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
        incident_id = int(payload["incident_id"])
        waited = self.clock.now().timestamp() - float(payload.get("_since", 0))
        if waited < YIELD_AT_MOST.total_seconds() and self.busy(incident_id):
            # Parked until the burst is over (release_waiting), or at the latest until YIELD_AT_MOST has passed.
            raise NotYet(retry_in=max(1.0, YIELD_AT_MOST.total_seconds() - waited))
        with self._locks[incident_id % LOCK_STRIPES]:
            return self._deliver(gateway, incident_id, payload.get("_outbox_id"), int(payload.get("_attempt", 1)))

    def _deliver(self, gateway: SlackGateway, incident_id: int, item: int | None, attempt: int) -> dict[str, Any]:
        # The lookup reads outside the SQLite writer queue: declares acking meanwhile never wait for it.
        with self.db.reading() as session:
            incident = session.execute(select(Incident.channel_id, Incident.provisioned_at, Incident.declared_at)
                                       .where(Incident.id == incident_id)).one_or_none()
            if incident is None or incident.channel_id is None or incident.provisioned_at is None:
                return {"skipped": "not_provisioned"}  # provisioning's finish queues the first look itself
            found = similar_to_incident(session, incident_id)
            notice = session.execute(select(SimilarNotice.message_ts, SimilarNotice.shown, SimilarNotice.outbox_id)
                                     .where(SimilarNotice.incident_id == incident_id)).one_or_none()
        shown = [f.incident_id for f in found]
        channel, since = incident.channel_id, incident.declared_at.timestamp() - CLOCK_SKEW
        posted = (notice.message_ts, list(notice.shown), notice.outbox_id) if notice is not None else None
        if posted is None and shown and not self._reserve(incident_id, channel, item, shown):
            raise NotYet()  # a twin delivery reserved the post a moment ago: look again in a second
        text, blocks = message.notice(found, self.config)
        if posted is not None and posted[0] is not None:
            ts, before, _owner = posted
            if shown == before:
                return {"unchanged": ts, "shown": shown}
            gateway.update_message(channel, ts, text, blocks)
            self._store(incident_id, ts, shown, item)
            return {"updated": ts, "shown": shown}
        if posted is None and not shown:
            return {"nothing_similar": True}
        if posted is not None and posted[2] != item and not self._abandoned(posted[2]):
            raise NotYet()  # another delivery is posting it right now
        metadata = {"event_type": METADATA, "event_payload": {"incident_id": incident_id}}
        # A reservation we did not just make means an earlier attempt may have posted before it could record it.
        ts = gateway.find_posted(channel, metadata, since=since) if posted is not None or attempt > 1 else None
        if ts is not None:
            gateway.update_message(channel, ts, text, blocks)
        elif not shown:
            self._forget(incident_id)
            return {"nothing_similar": True}
        else:
            ts = gateway.post_message(channel, text, blocks, metadata=metadata)
        self._store(incident_id, ts, shown, item)
        return {"ts": ts, "shown": shown}

    def queue(self, connection: Connection, now: datetime, incident_id: int) -> int | None:
        """Provisioning's finish effect: queue the look (once, keyed) and return its id to deliver now; or, while
        other declares are in flight, park it (released when the burst is over) and return None."""
        item = queue_on_provisioned(connection, now, incident_id)
        if item is not None and self.busy(incident_id):
            connection.execute(_PARK, {"_id": item, "until": now + YIELD_AT_MOST})
            return None
        return item

    def release_waiting(self) -> list[int]:
        """The burst is over: notices that waited for it are due now (their ids, to deliver)."""
        with self.db.transaction() as connection:
            return list(connection.scalars(_RELEASE, {"now": self.clock.now()}))

    def _reserve(self, incident_id: int, channel: str, item: int | None, shown: list[int]) -> bool:
        """Claim the post (the incident is the key): False when another delivery holds it."""
        try:
            with self.db.transaction() as connection:
                connection.execute(NOTICES.insert().values(
                    incident_id=incident_id, outbox_id=item, channel_id=channel, message_ts=None, shown=shown,
                    updated_at=self.clock.now()))
            return True
        except IntegrityError:
            return False

    def _abandoned(self, item: int | None) -> bool:
        """Whether the delivery that reserved the post is over without posting (given up, or gone)."""
        if item is None:
            return True
        with self.db.reading() as session:
            row = session.execute(select(OutboxItem.done_at).where(OutboxItem.id == item)).one_or_none()
        return row is None or row.done_at is not None

    def _store(self, incident_id: int, ts: str, shown: list[int], item: int | None) -> None:
        with self.db.transaction() as connection:
            connection.execute(_STORE, {"_id": incident_id, "message_ts": ts, "shown": shown, "outbox_id": item,
                                        "updated_at": self.clock.now()})

    def _forget(self, incident_id: int) -> None:
        with self.db.transaction() as connection:
            connection.execute(NOTICES.delete().where(NOTICES.c.incident_id == incident_id))
