"""Slack side effects, recorded in the transaction that decided them and performed after it commits.

`enqueue` runs inside a unit of work, whose commit starts delivery (`bot/db/engine.py`); a page's commit hands it
straight to delivery's page lane (`bot/core/delivery.py`), and a page never steps aside for requests. `drain` claims due items with a short lease (so two workers, or two replicas,
never send the same item twice at once), performs them through the gateway, and marks them done. Transient Slack
failures are retried with backoff; a permanent failure is recorded on the incident's timeline, never dropped silently.
The background sweep drains whatever a crash or a Slack outage left behind.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, bindparam, case, func, or_, select, text, update
from sqlalchemy.orm import Session

from bot import logs
from bot.clock import Clock
from bot.db.engine import Database, note_queued, note_urgent
from bot.db.lease import claim_statement, release_statement
from bot.db.models import OutboxItem
from bot.db.types import UTCDateTime
from bot.priority import REQUESTS_FIRST
from bot.slack.gateway import CLOCK_SKEW, SlackError, SlackGateway
from bot.core.timeline import BOT_ACTOR, record

log = logging.getLogger(__name__)

# Long enough for one effect (a page to a large group); a live replica never needs more, a dead one blocks no longer.
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 6
# Errors that no retry will fix: report them instead of trying again.
PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "is_archived", "user_not_found", "user_disabled", "cant_invite", "not_in_channel",
     "message_not_found", "cant_update_message", "invalid_blocks", "invalid_arguments", "msg_too_long", "too_long",
     "restricted_action", "missing_scope", "not_authed", "invalid_auth", "account_inactive"}
)

OUTBOX = OutboxItem.__table__
# Asked after every declare and every tick that fired: built once (see bot/timeline.py).
_DUE = (select(OUTBOX.c.id)
        .where(OUTBOX.c.done_at.is_(None), OUTBOX.c.due_at <= bindparam("now"))
        .where(or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < bindparam("now")))
        .order_by(OUTBOX.c.id).limit(bindparam("limit")))
_DUE_FOR_INCIDENT = _DUE.where(OUTBOX.c.incident_id == bindparam("incident_id"))
_DUE_FOR_NO_INCIDENT = _DUE.where(OUTBOX.c.incident_id.is_(None))
# Pages first: in an alert storm the DM that wakes someone up must not queue behind message edits.
URGENT_KINDS = ("alert_page_dm", "page_dm")
_DUE_LOOSE = (select(OUTBOX.c.id)
              .where(OUTBOX.c.done_at.is_(None), OUTBOX.c.due_at <= bindparam("now"), OUTBOX.c.incident_id.is_(None))
              .where(or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < bindparam("now")))
              .order_by(case((OUTBOX.c.kind.in_(URGENT_KINDS), 0), else_=1), OUTBOX.c.id).limit(bindparam("limit")))
# What someone is waiting for: a page, or the answer to their own request (the declarer's "is open in" reply).
WAITED_FOR_KINDS = (*URGENT_KINDS, "respond")
# Which incidents have due work (NULL: effects of no incident), so a backlog can be delivered an incident per thread.
# Those holding something a person waits for come first, then the oldest: after a restart in the middle of a round
# of reminders, an interrupted declare's reply must not wait for every incident's reminder (seen: 12 s).
_DUE_GROUPS = (select(OUTBOX.c.incident_id)
               .where(OUTBOX.c.done_at.is_(None), OUTBOX.c.due_at <= bindparam("now"))
               .where(or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < bindparam("now")))
               .group_by(OUTBOX.c.incident_id)
               .order_by(func.min(case((OUTBOX.c.kind.in_(WAITED_FOR_KINDS), 0), else_=1)), func.min(OUTBOX.c.id))
               .limit(bindparam("limit")))
_CLAIM = claim_statement(OUTBOX, lease_until=OUTBOX.c.lease_until, attempts=OUTBOX.c.attempts, owner=OUTBOX.c.lease_owner,
                         unfinished=OUTBOX.c.done_at.is_(None)).returning(OUTBOX.c.kind, OUTBOX.c.payload, OUTBOX.c.attempts,
                                                                         OUTBOX.c.incident_id, OUTBOX.c.created_at)

# Every success is marked with this one prebuilt statement (fenced by the attempt that claimed the item).
_DONE = update(OUTBOX).where(OUTBOX.c.id == bindparam("_id"), OUTBOX.c.attempts == bindparam("_attempts"))
_RELEASE_OWN = release_statement(OUTBOX, lease_until=OUTBOX.c.lease_until, owner=OUTBOX.c.lease_owner, unfinished=OUTBOX.c.done_at.is_(None))

Handler = Callable[[SlackGateway, dict[str, Any]], dict[str, Any] | None]


WAITING = "not_yet"  # last_error of an item a handler put off (NotYet)


class NotYet(Exception):
    """The effect can't happen yet (e.g. the incident channel is still being created): try again shortly, no
    attempt is used up. `retry_in` (seconds) is how long to wait when what it waits for will release it sooner
    (`release_waiting`, or a feature's own release)."""

    def __init__(self, retry_in: float = 1.0) -> None:
        super().__init__(retry_in)
        self.retry_in = retry_in


# One prebuilt keyed insert, for the Core hot paths (provisioning) and the ORM ones alike; an effect already queued is skipped by the
# database itself (see bot/core/timeline.py for why this is written out rather than built per call).
_INSERT_KEYED = text(
    "INSERT INTO outbox (incident_id, kind, payload, dedupe_key, created_at, due_at, attempts) "
    "VALUES (:incident_id, :kind, :payload, :dedupe_key, :now, :now, 0) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("payload", type_=JSON()))


def enqueue_keyed(connection: Connection, now: datetime, *, kind: str, payload: dict[str, Any], incident_id: int | None,
                  dedupe_key: str) -> int | None:
    """`enqueue` on a Core connection, for a transaction that then delivers what it queued itself (`Outbox.deliver`):
    the new item's id, or None when an item with this key was queued before."""
    found: int | None = connection.execute(_INSERT_KEYED, {"incident_id": incident_id, "kind": kind, "payload": payload,
                                                           "dedupe_key": dedupe_key, "now": now}).scalar()
    return found


def enqueue(session: Session, clock: Clock, *, kind: str, payload: dict[str, Any], incident_id: int | None = None,
            dedupe_key: str | None = None) -> int | None:
    """Queue an effect in the session's transaction: the new item's id, or None when an item with this key was queued
    before. One keyed insert, no look first (an alert storm opens a group, a page and three effects per request)."""
    if incident_id is not None and session.new:
        session.flush()  # the incident may be one this transaction is creating: its row must exist first
    item_id: int | None = session.execute(_INSERT_KEYED, {"incident_id": incident_id, "kind": kind, "payload": payload,
                                                          "dedupe_key": dedupe_key, "now": clock.now()}).scalar()
    if item_id is None:
        return None
    note_queued(session, incident_id)
    if kind in URGENT_KINDS:
        note_urgent(session, item_id)
    return item_id


class Outbox:
    def __init__(self, db: Database, gateway: SlackGateway, clock: Clock, owner: str = "sevbot") -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.owner = owner  # this replica's id, on every lease it takes
        self.handlers: dict[str, Handler] = {
            "post": _post,
            "dm": _dm,
            "invite": _invite,
            "ephemeral": _ephemeral,
            "archive": lambda gateway, payload: gateway.archive(payload["channel"]),
            "respond": _respond,
        }

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def drain(self, incident_id: int | None = None, limit: int = 100, *, until_empty: bool = False) -> int:
        """Perform due items (of one incident, or all); returns how many completed.

        With `until_empty`, keep taking batches while due items remain (the scheduler's backlog after a busy minute).
        """
        done = 0
        while True:
            batch = self._due(incident_id, limit)
            for item_id in batch:
                if self._run(item_id):
                    done += 1
            if not until_empty or len(batch) < limit:
                return done

    def due_groups(self, limit: int = 500) -> list[int | None]:
        """The incidents with due items (None stands for items of no incident)."""
        with self.db.transaction() as connection:
            return list(connection.scalars(_DUE_GROUPS, {"now": self.clock.now(), "limit": limit}))

    def due_of_no_incident(self, limit: int = 32) -> list[int]:
        """Due items that belong to no incident (they keep no order among themselves), pages first. A short batch:
        the delivery pass asks again as soon as it is through, so a page queued meanwhile waits little."""
        with self.db.transaction() as connection:
            return list(connection.scalars(_DUE_LOOSE, {"now": self.clock.now(), "limit": limit}))

    def drain_group(self, incident_id: int | None) -> int:
        """Deliver one incident's due items in order (or, for None, the items of no incident)."""
        if incident_id is not None:
            return self.drain(incident_id, until_empty=True)
        done = 0
        while True:
            with self.db.transaction() as connection:
                batch = list(connection.scalars(_DUE_FOR_NO_INCIDENT, {"now": self.clock.now(), "limit": 100}))
            done += sum(1 for item_id in batch if self._run(item_id))
            if len(batch) < 100:
                return done

    def take_back_own(self) -> int:
        """At start: items this replica was delivering when it died are due again now (see bot/db/lease.py)."""
        with self.db.transaction() as connection:
            return connection.execute(_RELEASE_OWN, {"_owner": self.owner}).rowcount

    def release_waiting(self, incident_id: int) -> None:
        """What waited for the incident's channel is due now (provisioning just made it), not a second from now."""
        with self.db.unit_of_work() as session:
            session.execute(update(OutboxItem).where(OutboxItem.incident_id == incident_id, OutboxItem.done_at.is_(None),
                                                     OutboxItem.last_error == WAITING).values(due_at=self.clock.now()))

    def has_due(self) -> bool:
        return bool(self._due(None, 1))

    def _due(self, incident_id: int | None, limit: int) -> list[int]:
        params = {"now": self.clock.now(), "limit": limit}
        with self.db.transaction() as connection:
            if incident_id is None:
                return list(connection.scalars(_DUE, params))
            return list(connection.scalars(_DUE_FOR_INCIDENT, params | {"incident_id": incident_id}))

    def _claim(self, item_id: int) -> tuple[str, dict[str, Any], int, int | None] | None:
        now = self.clock.now()
        with self.db.transaction() as connection:
            row = connection.execute(_CLAIM, {"_id": item_id, "_now": now, "_lease_until": now + LEASE, "_owner": self.owner}).one_or_none()
            if row is None:
                return None
            return row.kind, {**row.payload, "_since": row.created_at.timestamp()}, row.attempts, row.incident_id

    def _run(self, item_id: int) -> bool:
        claim = self._claim(item_id)
        if claim is None:
            return False
        kind, payload, attempts, incident_id = claim
        with logs.context(incident=incident_id), (REQUESTS_FIRST.urgent() if kind in URGENT_KINDS else nullcontext()):
            return self._perform(item_id, kind, payload, attempts, incident_id)

    def _perform(self, item_id: int, kind: str, payload: dict[str, Any], attempts: int, incident_id: int | None) -> bool:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise SlackError(kind, "no_handler")
            result = handler(self.gateway, {**payload, "_outbox_id": item_id, "_attempt": attempts})
        except NotYet as wait:
            with self.db.unit_of_work() as session:
                session.execute(update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.attempts == attempts).values(
                    attempts=attempts - 1, lease_until=None, due_at=self.clock.now() + timedelta(seconds=wait.retry_in),
                    last_error=WAITING))
            return False
        except SlackError as exc:
            if exc.rate_limited:
                self._rate_limited(item_id, kind, attempts, exc)
            else:
                self._failed(item_id, incident_id, kind, attempts, exc)
            return False
        # Slack has done it: mark it at once, never behind requests. Until this commits, a crash repeats the effect
        # (a response_url reply can't be looked for), so this window stays as short as one UPDATE (on PostgreSQL in
        # autocommit: no BEGIN and COMMIT round trips around it, each a wait to win the GIL back).
        with REQUESTS_FIRST.urgent(), self.db.autocommit() as connection:
            connection.execute(_DONE, {"_id": item_id, "_attempts": attempts, "done_at": self.clock.now(), "result": result or {},
                                       "lease_until": None, "last_error": None})
        return True

    def deliver(self, item_id: int) -> bool:
        """Perform one item now (the caller just queued it and knows its id): no look for due work first."""
        return self._run(item_id)

    def _rate_limited(self, item_id: int, kind: str, attempts: int, exc: SlackError) -> None:
        """Slack said "slow down" (about one message a second per channel; storms hit it): the item waits as long as
        Slack asked and is tried again, without using up an attempt. Queued, never dropped."""
        wait = max(1.0, exc.retry_after or 1.0)
        with self.db.unit_of_work() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.attempts == attempts).values(
                attempts=attempts - 1, lease_until=None, due_at=self.clock.now() + timedelta(seconds=wait),
                last_error=exc.code))
        log.info("outbox %s (%s): Slack asked us to slow down; trying again in %.0f s", item_id, kind, wait)

    def _failed(self, item_id: int, incident_id: int | None, kind: str, attempts: int, exc: SlackError) -> None:
        now = self.clock.now()
        give_up = exc.code in PERMANENT_ERRORS or exc.code == "no_handler" or attempts >= MAX_ATTEMPTS
        with self.db.unit_of_work() as session:
            values: dict[str, Any] = {"last_error": exc.code, "lease_until": None}
            if give_up:
                values["done_at"] = now
                values["result"] = {"failed": exc.code}
            else:
                values["due_at"] = now + timedelta(seconds=min(300, 5 * 2 ** (attempts - 1)))
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.attempts == attempts).values(**values))
            if give_up and incident_id is not None:
                record(session, incident_id, kind="slack_failed", actor=BOT_ACTOR, at=now,
                       summary=f"Slack refused to {_DESCRIPTIONS.get(kind, kind)} ({exc.code}) after {attempts} attempt(s)",
                       data={"outbox_id": item_id, "kind": kind, "error": exc.code}, dedupe_key=f"outbox:{item_id}:failed")
        log.warning("outbox %s (%s) attempt %s failed: %s%s", item_id, kind, attempts, exc.code, " (giving up)" if give_up else "")


_DESCRIPTIONS = {"post": "post a message", "dm": "send a direct message", "invite": "invite someone", "ephemeral": "answer privately",
                 "sync_card": "update the incident card"}


OUTBOX_METADATA = "sevbot_outbox"


def post_for_item(gateway: SlackGateway, payload: dict[str, Any], target: str, text: str,
                  blocks: list[dict[str, Any]] | None = None, thread_ts: str | None = None) -> dict[str, Any]:
    """Post for the outbox item that `payload` was handed with, to a channel or a person (a user id: the DM with
    them): `{"channel", "ts"}`, and `"adopted": True` when an earlier attempt's message was found and kept.

    The message carries the item's id as metadata. The process may die after Slack took a message and before the item
    was marked done; any attempt after the first therefore looks for it first (in a DM: the DM's history, scope
    im:history), so a crash never sends the same message twice. An item may post several messages (a page DMs each
    person, then tells the channel): they are told apart by where they went, one per conversation."""
    item_id = payload.get("_outbox_id")
    if item_id is None:  # not performed by the outbox (a direct call): nothing to look for
        channel, ts = gateway.post(target, text, blocks, thread_ts)
        return {"channel": channel, "ts": ts}
    since = payload["_since"] - CLOCK_SKEW if "_since" in payload else None
    channel, ts, adopted = gateway.post_once(target, text, blocks, thread_ts, since=since, look=payload.get("_attempt", 1) > 1,
                                             metadata={"event_type": OUTBOX_METADATA, "event_payload": {"outbox_id": item_id}})
    return {"channel": channel, "ts": ts, "adopted": True} if adopted else {"channel": channel, "ts": ts}


def _post(gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    return post_for_item(gateway, payload, payload["channel"], payload["text"], payload.get("blocks"), payload.get("thread_ts"))


def _dm(gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    # chat.postMessage to a user id lands in the DM with the bot (no conversations.open needed to post).
    return post_for_item(gateway, payload, payload["user"], payload["text"], payload.get("blocks"))


def _respond(gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    """A private answer through a command's response_url; if Slack refuses it (expired, used up), a DM instead:
    the person must hear it."""
    if gateway.respond(payload["response_url"], payload["text"]):
        return {"via": "response_url"}
    return {"via": "dm", **post_for_item(gateway, payload, payload["user"], payload["text"])}


def _invite(gateway: SlackGateway, payload: dict[str, Any]) -> dict[str, Any]:
    refused = gateway.invite(payload["channel"], payload["users"])
    return {"refused": [list(r) for r in refused]}


def _ephemeral(gateway: SlackGateway, payload: dict[str, Any]) -> None:
    gateway.post_ephemeral(payload["channel"], payload["user"], payload["text"])
    return None
