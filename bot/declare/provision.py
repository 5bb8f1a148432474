"""Provisioning drives Slack for a recorded incident, one idempotent step at a time.

Each step checks the column that proves it happened, calls Slack once, then stores what Slack returned together with
its timeline event. A crash or a Slack failure between steps leaves the incident recorded with the steps done so far;
the next run (a retry, or the sweep) continues from there and never makes a second channel or a second card.
Runs are fenced: a claim takes a lease and a token (the attempt number), and every write checks the token.
"""
from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from bot import logs
from bot.clock import Clock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.lease import claim_statement, release_statement
from bot.db.models import Incident
from bot.domain import naming
from bot.domain.incident import human_id
from bot.render import Renderer
from bot.slack.gateway import CLOCK_SKEW, SlackError, SlackGateway
from bot.core.outbox import enqueue_keyed
from bot.core.timeline import BOT_ACTOR, record, record_keyed
from bot.card.sync import CardSync, render_card
from bot.core.incident import IncidentView, attached_alerts, current_roles, view_from_row
from bot.card import view as card_view
from bot.declare import messages

log = logging.getLogger(__name__)

INCIDENTS = Incident.__table__
# Provisioning runs for every declare, so its statements are built once (see bot/timeline.py for why that matters).
_CLAIM = claim_statement(INCIDENTS, lease_until=INCIDENTS.c.provision_lease_until, attempts=INCIDENTS.c.provision_attempts,
                         owner=INCIDENTS.c.provision_owner,
                         unfinished=INCIDENTS.c.provisioned_at.is_(None)).returning(*INCIDENTS.c)  # reads the row it took
_RELEASE_OWN = release_statement(INCIDENTS, lease_until=INCIDENTS.c.provision_lease_until, owner=INCIDENTS.c.provision_owner,
                                 unfinished=INCIDENTS.c.provisioned_at.is_(None))
# Renewed by the heartbeat while the run is alive; fenced like every other write.
_RENEW = (update(INCIDENTS).where(INCIDENTS.c.id == bindparam("_id"), INCIDENTS.c.provision_attempts == bindparam("_token"),
                                  INCIDENTS.c.provisioned_at.is_(None))
          .values(provision_lease_until=bindparam("_lease_until")))
# Which of the names this declare may take (the base name and its suffixed forms) other incidents hold: an IN list on
# the channel_name index, where a LIKE on the prefix read the whole incidents table on every declare.
_HELD_NAMES = select(INCIDENTS.c.channel_name).where(
    INCIDENTS.c.id != bindparam("_id"), INCIDENTS.c.channel_name.in_(bindparam("_names", expanding=True)))
# The SET clause comes from the keys of the parameters passed with it; the token fences out a stale run.
_FENCED = update(INCIDENTS).where(INCIDENTS.c.id == bindparam("_id"), INCIDENTS.c.provision_attempts == bindparam("_token"))
_FENCED_VERSIONS = _FENCED.returning(INCIDENTS.c.card_version, INCIDENTS.c.card_synced_version)
# Short, and renewed every RENEW_EVERY while the run is alive: a crashed replica's declares are taken over by another
# within seconds, and a restarted one takes its own back at start (`take_back_own`).
LEASE = timedelta(seconds=15)
RENEW_EVERY = 5.0
# Message metadata on the card and the announcement, so a later run can find what an interrupted one posted.
PROVISION_METADATA = "sevbot_provision"
# A DM telling the declarer what went wrong, when their response_url is refused (looked for on a late answer).
DECLARER_NOTICE = "sevbot_declarer_notice"
RETRY_AFTER_FAILURE = timedelta(seconds=30)
MAX_NAME_ATTEMPTS = 50


class LostLease(Exception):
    """Another worker took this incident over; stop without writing."""


StepResult = tuple[dict[str, Any], tuple[str, str, dict[str, Any]]]  # (columns to set, timeline event)
# What a feature queues in the finish's own transaction (so a crash right after can't lose it), given the connection,
# the time and the incident: the new outbox item's id (delivered right after), or None when it was queued before.
FinishEffect = Callable[[Connection, datetime, int], int | None]


class DeferredSteps:
    """Results of idempotent steps (invite, topic, pin), stored together once the parallel steps are over: repeating
    one after a crash changes nothing in Slack, so it need not cost a transaction of its own. One per run, shared by
    every copy of the run's snapshot and added to from the branch threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: list[StepResult] = []

    def add(self, values: dict[str, Any], event: tuple[str, str, dict[str, Any]]) -> None:
        with self._lock:
            self._results.append((values, event))

    def peek(self) -> list[StepResult]:
        with self._lock:
            return list(self._results)

    def forget(self, stored: list[StepResult]) -> None:
        with self._lock:
            self._results = [r for r in self._results if r not in stored]


@dataclass(frozen=True)
class Snapshot:
    """This run's lease token and the Slack steps done so far; what the incident says is in `view`."""

    id: int
    token: int
    response_url: str | None
    channel_name: str | None
    channel_id: str | None
    members_invited_at: datetime | None
    topic_set_at: datetime | None
    card_ts: str | None
    card_pinned_at: datetime | None
    announcement_ts: str | None
    # The incident as the card, topic and announcement show it, read in the claim's transaction.
    view: IncidentView
    # Channel names other incidents already hold (so we don't ask Slack for them).
    held_names: frozenset[str] = frozenset()
    # The run's idempotent step results waiting to be stored (the one mutable part, shared on purpose; see DeferredSteps).
    deferred: DeferredSteps = field(default_factory=DeferredSteps, compare=False)


@dataclass(frozen=True)
class Outcome:
    incident_id: int
    done: bool
    failed_step: str | None = None
    error: str | None = None
    # The outbox item telling the declarer "INC-n is open in #…", queued with the finish: deliver it next.
    reply_item: int | None = None
    # What the finish effects queued (e.g. the similar-incidents lookup): delivered after the reply.
    finish_items: tuple[int, ...] = ()


class StepFailed(Exception):
    def __init__(self, step: str, error: SlackError) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        self.error = error


class Provisioner:
    """Runs the steps: the channel first; then the card; then, in parallel, the pin, invite, topic and announcement.

    Only the pin truly depends on another step, so after the channel exists the slowest chain is two Slack calls.
    """

    def __init__(self, db: Database, gateway: SlackGateway, config: IncidentConfig, renderer: Renderer, clock: Clock,
                 card_sync: CardSync | None = None, *, parallelism: int = 32, owner: str = "sevbot",
                 on_finish: tuple[FinishEffect, ...] = ()) -> None:
        self.card_sync = card_sync
        self.on_finish = on_finish  # registered by the composition root
        self.owner = owner  # this replica's id, on every lease it takes
        self._running: dict[int, int] = {}  # incident -> fencing token, for the heartbeat
        self._running_lock = threading.Lock()
        self._heartbeat_stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.db = db
        self.gateway = gateway
        self.config = config
        self.renderer = renderer
        self.clock = clock
        self.retry_after_failure = RETRY_AFTER_FAILURE
        self._branches = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="sevbot-provision-step")

    # -- entry points ---------------------------------------------------------------------------------------

    def run(self, incident_id: int) -> Outcome:
        with logs.context(incident=incident_id):
            return self._run(incident_id)

    def _run(self, incident_id: int) -> Outcome:
        snap = self._claim(incident_id)
        if snap is None:
            return Outcome(incident_id, done=False)
        with self._running_lock:
            self._running[incident_id] = snap.token
        try:
            return self._drive(snap)
        finally:
            with self._running_lock:
                self._running.pop(incident_id, None)

    def busy(self, besides: int | None = None) -> bool:
        """Whether a declare (other than `besides`) is being provisioned here now: work that can wait, waits for it."""
        with self._running_lock:
            return any(incident_id != besides for incident_id in self._running)

    def take_back_own(self) -> int:
        """At start: the declares this replica was provisioning when it died are free to claim now."""
        with self.db.transaction() as connection:
            return connection.execute(_RELEASE_OWN, {"_owner": self.owner}).rowcount

    def start_heartbeat(self) -> None:
        """Renew the leases of the runs in progress every RENEW_EVERY seconds, so a slow Slack never lets another
        replica take over a live run, while a dead one's leases lapse within LEASE."""
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="sevbot-provision-lease", daemon=True)
            self._heartbeat.start()

    def _beat(self) -> None:
        while not self._heartbeat_stop.wait(RENEW_EVERY):
            with self._running_lock:
                running = list(self._running.items())
            if not running:
                continue
            try:
                with self.db.transaction() as connection:
                    until = self.clock.now() + LEASE
                    connection.execute(_RENEW, [{"_id": i, "_token": t, "_lease_until": until} for i, t in running])
            except Exception as exc:  # the database is away: the leases lapse, and whoever is alive takes over
                log.warning("could not renew provisioning leases: %s", type(exc).__name__)

    def _drive(self, snap: Snapshot) -> Outcome:
        incident_id = snap.id
        try:
            if snap.channel_id is None:
                snap = self._step("channel", self._create_channel, snap)
            try:
                self._run_branches(snap)
            except StepFailed:
                self._store_deferred(snap)  # keep what did succeed
                raise
            reply_item, finish_items = self._finish(snap)
        except LostLease:
            log.info("%s: another worker owns provisioning now", human_id(incident_id))
            return Outcome(incident_id, done=False)
        except StepFailed as failed:
            self._fail(snap, failed.step, failed.error)
            return Outcome(incident_id, done=False, failed_step=failed.step, error=failed.error.code)
        return Outcome(incident_id, done=True, reply_item=reply_item, finish_items=finish_items)

    def _declared_reply(self, snap: Snapshot) -> str:
        reply = messages.declared_reply(snap.id, snap.channel_id)
        severity = self.config.severities.get(snap.view.severity)
        if severity is not None and severity.page and not self.config.escalation_policies:
            # The timeline has the request; the declarer must know nobody was paged automatically.
            reply += "\n:pager: This severity calls for paging on-call, but no escalation policy is configured: page them by hand."
        return reply

    def shutdown(self) -> None:
        self._branches.shutdown(wait=True)
        self._heartbeat_stop.set()

    def _run_branches(self, snap: Snapshot) -> None:
        """The card first, on this thread; then the pin, the invites, the topic and the announcement together.

        "Done" waits for create → card → pin either way, so starting the other three after the card costs it
        nothing, while the card (what people look for first) no longer shares the process with them.
        """
        view = replace(snap.view, channel_id=snap.channel_id)  # read at claim; later changes re-sync the card at finish
        problems: list[BaseException] = []
        carded = snap
        if snap.card_ts is None:
            try:
                carded = self._step("card", lambda s: self._post_card(s, view), snap)
            except StepFailed as failed:  # the rest still happens (people get invited); the card is retried
                problems.append(failed)
        branches: list[Callable[[], object]] = []
        if snap.members_invited_at is None:
            branches.append(lambda: self._step("invite", self._invite, snap))
        if snap.topic_set_at is None:
            branches.append(lambda: self._step("topic", lambda s: self._set_topic(s, view), snap))
        if snap.announcement_ts is None and self.config.stakeholder_channel is not None:
            branches.append(lambda: self._step("announce", lambda s: self._announce(s, view), snap))
        futures = [self._branches.submit(contextvars.copy_context().run, branch) for branch in branches]
        if carded.card_ts is not None and carded.card_pinned_at is None:
            try:
                self._step("pin", self._pin_card, carded)
            except Exception as exc:  # kept, like the others': every branch stores its own result, success or not
                problems.append(exc)
        for future in futures:
            error = future.exception()
            if error is not None:
                problems.append(error)
        for problem in problems:
            if isinstance(problem, LostLease):
                raise problem
        if problems:
            raise problems[0]

    @staticmethod
    def _step(name: str, perform: Callable[[Snapshot], Snapshot], snap: Snapshot) -> Snapshot:
        try:
            return perform(snap)
        except SlackError as exc:
            raise StepFailed(name, exc) from None

    def pending(self, limit: int = 50) -> list[int]:
        """Incidents whose provisioning is unfinished and not owned by a live worker (the sweep's work)."""
        now = self.clock.now()
        with self.db.unit_of_work() as session:
            rows = session.scalars(
                select(Incident.id)
                .where(Incident.provisioned_at.is_(None))
                .where(or_(Incident.provision_lease_until.is_(None), Incident.provision_lease_until < now))
                .order_by(Incident.id)
                .limit(limit)
            )
            return list(rows)

    def sweep(self) -> list[Outcome]:
        """Run what is pending, one after another (the tests' way; `Core.background_sweep` runs them side by side)."""
        return [self.run(incident_id) for incident_id in self.pending_here()]

    def pending_here(self) -> list[int]:
        """`pending()`, except what this process is running now: a run whose lease lapsed while the database was too
        busy to renew it is still alive here, and a second run beside it could post twice."""
        with self._running_lock:
            running = set(self._running)
        return [incident_id for incident_id in self.pending() if incident_id not in running]

    # -- claim, fence, finish -------------------------------------------------------------------------------

    def _claim(self, incident_id: int) -> Snapshot | None:
        """Take the lease and, in the same transaction, read everything the steps need and choose the channel name."""
        now = self.clock.now()
        with self.db.transaction() as connection:
            row = connection.execute(_CLAIM, {"_id": incident_id, "_now": now, "_lease_until": now + LEASE,
                                              "_owner": self.owner}).one_or_none()
            if row is None:
                return None
            view = view_from_row(row, current_roles(connection, incident_id))
            if self.config.alerts.sources:  # an incident declared from an alert lists it on its first card
                view = replace(view, alerts=attached_alerts(connection, incident_id))
            held: frozenset[str] = frozenset()
            channel_name = row.channel_name
            if row.channel_id is None:
                base = self._base_name(row.severity, row.declared_at, row.title, row.id)
                candidates = [naming.with_suffix(base, a) for a in range(1, MAX_NAME_ATTEMPTS + 1)]
                held = frozenset(n for n in connection.scalars(_HELD_NAMES, {"_id": row.id, "_names": candidates}) if n)
                # Claim the first free name now, so a same-titled declare running beside us picks another.
                channel_name = next((n for n in candidates if n not in held), None)
                if channel_name is not None:
                    connection.execute(_FENCED, {"_id": row.id, "_token": row.provision_attempts, "channel_name": channel_name})
            return Snapshot(
                id=row.id,
                token=row.provision_attempts,
                response_url=row.response_url,
                channel_name=channel_name,
                channel_id=row.channel_id,
                members_invited_at=row.members_invited_at,
                topic_set_at=row.topic_set_at,
                card_ts=row.card_ts,
                card_pinned_at=row.card_pinned_at,
                announcement_ts=row.announcement_ts,
                view=view,
                held_names=held,
            )

    def _base_name(self, severity: str, declared_at: datetime, title: str, number: int) -> str:
        return naming.channel_name(
            self.config.channel_name_template, severity=severity, declared_at=declared_at, title=title, incident_number=number
        )

    def _store(self, snap: Snapshot, values: dict[str, Any], event: tuple[str, str, dict[str, Any]] | None = None,
               *, release: bool = False) -> None:
        """Write what Slack returned (and its timeline event) if this run still holds the lease; renew it."""
        now = self.clock.now()
        with self.db.transaction() as connection:
            params = {**values, "_id": snap.id, "_token": snap.token, "provision_lease_until": None if release else now + LEASE}
            if connection.execute(_FENCED, params).rowcount != 1:
                raise LostLease()
            if event is not None:
                self._record_steps(connection, snap, now, [event])

    @staticmethod
    def _record_steps(connection: Connection, snap: Snapshot, now: datetime, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        # Keyed per step: a step recorded by an earlier, interrupted run is not recorded twice.
        record_keyed(connection, [
            {"incident_id": snap.id, "at": now, "actor": BOT_ACTOR, "kind": kind, "summary": summary, "data": data,
             "dedupe_key": f"{snap.id}:provision:{kind}"} for kind, summary, data in events])

    def _store_deferred(self, snap: Snapshot, **finish: Any) -> Any:
        """One fenced transaction for the idempotent steps' results (and, on success, the finish). Returns the
        card versions it read back (or None when there was nothing to store)."""
        return self._store_results(snap, finish)[0]

    def _store_results(self, snap: Snapshot, finish: dict[str, Any]) -> tuple[Any, int | None, tuple[int, ...]]:
        """`_store_deferred`, also returning the id of the declarer's reply the finish queued (None otherwise) and
        the items the finish effects queued."""
        pending = snap.deferred.peek()
        values: dict[str, Any] = {}
        for step_values, _event in pending:
            values.update(step_values)
        values.update(finish)
        if not values:
            return None, None, ()
        now = self.clock.now()
        reply_item = None
        finish_items: list[int] = []
        with self.db.transaction() as connection:
            params = {**values, "_id": snap.id, "_token": snap.token, "provision_lease_until": None if finish else now + LEASE}
            row = connection.execute(_FENCED_VERSIONS, params).one_or_none()
            if row is None:
                raise LostLease()
            self._record_steps(connection, snap, now, [event for _values, event in pending])
            if finish and snap.response_url:
                # "INC-n is open in #…" is decided with the finish, so a crash right after can't lose it.
                reply_item = enqueue_keyed(connection, now, kind="respond", incident_id=snap.id, dedupe_key=f"{snap.id}:declared_reply",
                              payload={"response_url": snap.response_url, "user": snap.view.declared_by, "text": self._declared_reply(snap)})
            if finish:
                finish_items = [item for effect in self.on_finish if (item := effect(connection, now, snap.id)) is not None]
        snap.deferred.forget(pending)
        return row, reply_item, tuple(finish_items)

    def _finish(self, snap: Snapshot) -> tuple[int | None, tuple[int, ...]]:
        """Store the finish; returns the id of the declarer's reply it queued, and what the finish effects queued."""
        versions, reply_item, finish_items = self._store_results(snap, {"provisioned_at": self.clock.now(), "provision_error": None})
        if self.card_sync is not None and versions[0] > versions[1]:
            # A role or status change landed while we were posting: bring the card up to date now.
            self.card_sync.sync(snap.id)
        return reply_item, finish_items

    def _fail(self, snap: Snapshot, step: str, exc: SlackError) -> None:
        now = self.clock.now()
        with self.db.unit_of_work() as session:
            incident = session.get_one(Incident, snap.id)
            if incident.provision_attempts != snap.token:
                return
            first_failure = incident.provision_error is None and snap.token == 1
            incident.provision_error = f"{step}: {exc.code}"
            # Leave the lease in place a little longer: the sweep retries after a pause, not in a hot loop.
            incident.provision_lease_until = now + self.retry_after_failure
            record(
                session,
                snap.id,
                kind="provisioning_failed",
                actor=BOT_ACTOR,
                at=now,
                summary=f"Slack step '{messages.STEP_NAMES[step]}' failed ({exc.code}); retrying automatically",
                data={"step": step, "error": exc.code, "method": exc.method, "attempt": snap.token},
                dedupe_key=f"{snap.id}:provision:failed:{step}:{exc.code}",
            )
            progress = replace(
                snap,
                channel_id=incident.channel_id,
                members_invited_at=incident.members_invited_at,
                topic_set_at=incident.topic_set_at,
                card_ts=incident.card_ts,
                card_pinned_at=incident.card_pinned_at,
                announcement_ts=incident.announcement_ts,
            )
        log.warning("%s: provisioning step %s failed: %s", human_id(snap.id), step, exc)
        if first_failure:
            self._tell_declarer(snap, messages.provisioning_failed_reply(snap.id, step, exc.code, progress), f"{step}:{exc.code}")

    def _tell_declarer(self, snap: Snapshot, text: str, what: str) -> None:
        """Privately, or in a DM when the response_url is refused. The DM carries metadata naming what it tells, so
        a Slack that answers too late gets looked at, not a second DM."""
        if snap.response_url and self.gateway.respond(snap.response_url, text):
            return
        metadata = {"event_type": DECLARER_NOTICE, "event_payload": {"notice": f"{snap.id}:{what}"}}
        try:
            self.gateway.post(snap.view.declared_by, text, metadata=metadata)  # the declarer must hear what happened
        except SlackError as exc:
            log.warning("%s: could not tell the declarer: %s", human_id(snap.id), exc.code)

    # -- the steps ------------------------------------------------------------------------------------------

    def _create_channel(self, snap: Snapshot) -> Snapshot:
        base = self._base_name(snap.view.severity, snap.view.declared_at, snap.view.title, snap.id)
        held = snap.held_names
        bot_user = self.gateway.bot_user_id()
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = naming.with_suffix(base, attempt)
            if name in held:
                continue
            if name != snap.channel_name:  # the claim stored the first free name; a later one is stored before asking
                self._store(snap, {"channel_name": name})
            try:
                channel_id = self.gateway.create_channel(name)
            except SlackError as exc:
                if exc.code != "name_taken":
                    raise
                # Maybe ours: an earlier run created it and crashed before storing the id. Adopt it, never make a twin.
                found = self.gateway.find_channel_by_name(name)
                if found is None or found.creator != bot_user or self._channel_held_by_other(snap.id, found.id, name):
                    continue
                channel_id = found.id
            self._store(
                snap,
                {"channel_id": channel_id, "channel_name": name},
                ("channel_created", f"Created channel #{name}", {"channel_id": channel_id, "name": name}),
            )
            return replace(snap, channel_id=channel_id, channel_name=name)
        raise SlackError("conversations.create", "name_taken")

    def _channel_held_by_other(self, incident_id: int, channel_id: str, name: str) -> bool:
        with self.db.unit_of_work() as session:
            other = session.scalar(
                select(Incident.id).where(
                    Incident.id != incident_id, or_(Incident.channel_id == channel_id, Incident.channel_name == name)
                )
            )
            return other is not None

    def _invite(self, snap: Snapshot) -> Snapshot:
        assert snap.channel_id
        users = {snap.view.declared_by, snap.view.ic}
        for responder in self.config.severity(snap.view.severity).responders:
            if responder.startswith("S"):
                users.update(self.gateway.usergroup_members(responder))
            else:
                users.add(responder)
        users.discard(self.gateway.bot_user_id())
        refused = self.gateway.invite(snap.channel_id, users)
        invited = sorted(users - {user for user, _ in refused})
        summary = f"Invited {len(invited)} {'person' if len(invited) == 1 else 'people'}" + (f"; Slack refused {len(refused)}" if refused else "")
        now = self.clock.now()
        snap.deferred.add({"members_invited_at": now}, ("members_invited", summary, {"invited": invited, "refused": [list(r) for r in refused]}))
        return replace(snap, members_invited_at=now)

    def _set_topic(self, snap: Snapshot, view: IncidentView) -> Snapshot:
        assert snap.channel_id
        topic = card_view.topic(view, self.config)
        self.gateway.set_topic(snap.channel_id, topic)
        now = self.clock.now()
        snap.deferred.add({"topic_set_at": now, "topic": topic}, ("topic_set", "Set the channel topic", {"topic": topic}))
        return replace(snap, topic_set_at=now)

    def _post_once(self, snap: Snapshot, channel: str, text: str, blocks: list[dict[str, Any]], what: str) -> str:
        """Post `what` (the card, the announcement) tagged with its incident. A run after the first (a crash or a
        failure interrupted one) first looks for the post an earlier run may have made before it could store it."""
        metadata = {"event_type": PROVISION_METADATA, "event_payload": {"post": f"{what}:{snap.id}"}}
        if snap.token > 1:
            landed = self.gateway.find_posted(channel, metadata, since=snap.view.declared_at.timestamp() - CLOCK_SKEW)
            if landed is not None:
                log.info("%s: the %s was already posted by an earlier run; adopting it", human_id(snap.id), what)
                return landed
        return self.gateway.post_message(channel, text, blocks, metadata=metadata)

    def _post_card(self, snap: Snapshot, view: IncidentView) -> Snapshot:
        assert snap.channel_id
        text, blocks = render_card(self.renderer, self.config, view, self.card_sync.runbooks if self.card_sync else None)
        ts = self._post_once(snap, snap.channel_id, text, blocks, "card")
        self._store(snap, {"card_ts": ts, "card_synced_version": view.card_version}, ("card_posted", "Posted the incident card", {"ts": ts}))
        return replace(snap, card_ts=ts)

    def _pin_card(self, snap: Snapshot) -> Snapshot:
        assert snap.channel_id and snap.card_ts
        self.gateway.pin(snap.channel_id, snap.card_ts)
        now = self.clock.now()
        snap.deferred.add({"card_pinned_at": now}, ("card_pinned", "Pinned the incident card", {"ts": snap.card_ts}))
        return replace(snap, card_pinned_at=now)

    def _announce(self, snap: Snapshot, view: IncidentView) -> Snapshot:
        channel = self.config.stakeholder_channel
        assert channel and snap.channel_id
        blocks = self.renderer.blocks("stakeholder_announcement.json.j2", **card_view.card_context(view, self.config))
        text = messages.announcement_fallback(view, self.config)
        try:
            ts = self._post_once(snap, channel, text, blocks, "announcement")
        except SlackError as exc:
            if exc.code != "not_in_channel":
                raise
            self.gateway.join(channel)
            ts = self._post_once(snap, channel, text, blocks, "announcement")
        self._store(snap, {"announcement_ts": ts}, ("stakeholders_announced", "Announced in the stakeholder channel", {"channel": channel, "ts": ts}))
        return replace(snap, announcement_ts=ts)
