"""The tables. Slack ids and message timestamps are stored as Slack returns them so a repeat is harmless."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(100))
    scope: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Where /incident was typed and how to answer the declarer privately there (valid 30 min).
    origin_channel_id: Mapped[str | None] = mapped_column(String(32))
    response_url: Mapped[str | None] = mapped_column(Text)
    # A modal submitted twice (double click, Slack retry) must not declare twice: "view:<view id>".
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    # Slack provisioning, one column per step, each filled from what Slack returned.
    channel_name: Mapped[str | None] = mapped_column(String(80))
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    members_invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    topic_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    card_ts: Mapped[str | None] = mapped_column(String(32))
    card_pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    provisioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provision_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    provision_error: Mapped[str | None] = mapped_column(Text)
    # A worker owns provisioning until this time; a crashed worker's claim simply expires.
    provision_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Which process holds the lease (its replica id): a restarted process takes its own unfinished work back at once.
    provision_owner: Mapped[str | None] = mapped_column(String(255))
    # Bumped by every change the card shows; the card (and topic) are re-rendered until synced catches up.
    card_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    card_synced_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    topic: Mapped[str | None] = mapped_column(String(250))
    # Resolution: what the resolve form said, and the figures computed then.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seconds_to_ack: Mapped[int | None] = mapped_column(Integer)
    seconds_to_resolve: Mapped[int | None] = mapped_column(Integer)
    postmortem_url: Mapped[str | None] = mapped_column(Text)

    timeline: Mapped[list[TimelineEvent]] = relationship(back_populates="incident", order_by="TimelineEvent.id")
    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="incident", order_by="RoleAssignment.id")

    __table_args__ = (Index("ix_incidents_unprovisioned", "provisioned_at"), Index("ix_incidents_status", "status"),
                      # The declare looks up which channel names are held (bot/declare/provision.py).
                      Index("ix_incidents_channel_name", "channel_name"),
                      # Similar past incidents of the same service, newest first (bot/similar/search.py).
                      Index("ix_incidents_service_declared", "service", "declared_at"))


class TimelineEvent(Base):
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Unique per logical event (a provisioning step, a Slack event_id) so a retry never records twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class RoleAssignment(Base):
    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    assigned_by: Mapped[str] = mapped_column(String(32))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    incident: Mapped[Incident] = relationship(back_populates="roles")

    __table_args__ = (
        # One current holder per role: two simultaneous hand-overs cannot both win.
        Index(
            "uq_role_assignments_current",
            "incident_id",
            "role",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class OutboxItem(Base):
    """A Slack side effect decided in a transaction and performed after it commits (and retried until done).

    Written in the same transaction as the change it reports, so a crash can delay a message but never lose it;
    `dedupe_key` makes enqueuing the same effect twice harmless.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_pending", "done_at", "due_at"),)


class ProcessedEvent(Base):
    """Events API deliveries already handled: Slack retries (X-Slack-Retry-Num) and duplicates are skipped."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunbookRun(Base):
    """A runbook started on an incident: its steps are snapshotted here, so editing the YAML changes nothing."""

    __tablename__ = "runbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(100))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One Slack message per part (Block Kit allows 50 blocks); ts and a hash of what each part shows.
    message_ts: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    message_hashes: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    synced_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        # One live run of a runbook per incident; a finished one may be run again.
        Index("uq_runbook_runs_live", "incident_id", "name", unique=True,
              sqlite_where=text("completed_at IS NULL"), postgresql_where=text("completed_at IS NULL")),
    )


class RunbookStepState(Base):
    __tablename__ = "runbook_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runbook_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    actor: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("uq_runbook_steps_position", "run_id", "position", unique=True),)


class Timer(Base):
    """Due work as a row: an update reminder, an escalation step, a runbook check. The scheduler tick claims rows
    whose time has come (FOR UPDATE SKIP LOCKED on PostgreSQL), runs them through the use cases and re-arms or
    finishes them in the same transaction, so a restart or a second replica neither loses nor repeats one."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # None for an alert group's page step (ref_id names the page).
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Times it fired since it was last satisfied (e.g. reminders with no update posted).
    fired: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Bumped on every re-arm: work decided for an older arming is stale and skipped.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_timers_due", "done_at", "due_at"),
        Index("uq_timers_live", "kind", "incident_id", "ref_id", unique=True,
              sqlite_where=text("done_at IS NULL"), postgresql_where=text("done_at IS NULL")),
    )


class OncallRota(Base):
    """One row per on-call schedule sevbot watches: who it last saw on call and since when (the run of that person),
    and the id its hand-off timer carries (`timers.ref_id`). Locked while its timer is armed, so two replicas
    starting together arm one timer."""

    __tablename__ = "oncall_rotas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OncallHandoff(Base):
    """A hand-off sevbot recorded (and announced): unique per schedule, instant and person, so however often a timer
    fires, whichever replica fires it, the incoming person hears of a shift once (and a config edit that puts someone
    else on the same shift is a new hand-off)."""

    __tablename__ = "oncall_handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None: nobody is on call from `at` (a gap in the rota).
    user_id: Mapped[str | None] = mapped_column(String(32))
    previous_user_id: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("uq_oncall_handoffs_shift", "schedule", "at", "user_id", unique=True),)


class Page(Base):
    """A page walking an escalation ladder. The policy is snapshotted at start: config edits don't change it."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # A page belongs to an incident or to an alert group.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    alert_group_id: Mapped[int | None] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"), index=True)
    policy_name: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    tier: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    round: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    state: Mapped[str] = mapped_column(String(16), default="paging")
    reason: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_by: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FollowUp(Base):
    """An action item from the incident: what, who owns it, by when."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(32))
    due: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonName(Base):
    """What Slack called a person when sevbot last looked (users.info), kept so an export years later still names
    people who have since left the workspace. `display_name` is what the export shows: the profile's display name,
    else the real name, else the handle."""

    __tablename__ = "person_names"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(Text)
    real_name: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SeenRequest(Base):
    """Signed Slack requests already accepted, kept for the signature window: the same signed body sent again (a
    replay) is refused with no effect, on every replica. `digest` is the SHA-256 of the timestamp and signature."""

    __tablename__ = "seen_requests"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AlertGroup(Base):
    """Alerts that share a group key (Alertmanager's groupKey, or one dedup_key / fingerprint): one living message,
    one page. `live_key` (a digest of source and group key) is unique while the group can still take alerts; a
    group resolved for longer than the flap window gives it up, and the next firing opens a new group."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(Text)
    live_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    service: Mapped[str | None] = mapped_column(String(100))
    runbook: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    # The labels every alert of the group shares, and the sender's own link.
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_url: Mapped[str | None] = mapped_column(Text)
    silence_url: Mapped[str | None] = mapped_column(Text)
    firing: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    truncated: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    acked_by: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    silenced_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    # Bumped by every change the message shows; the sync records the version Slack shows (as for the card).
    message_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    message_synced_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (Index("ix_alert_groups_channel_state", "channel_id", "state"),)


class Alert(Base):
    """One alert of a group, by fingerprint; a repeat delivery updates it in place."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    generator_url: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("uq_alerts_group_fingerprint", "group_id", "fingerprint", unique=True),
                      # Which past incidents had the same alert (bot/similar/search.py).
                      Index("ix_alerts_fingerprint", "fingerprint"))


class AlertEvent(Base):
    """The alert group's own timeline: fired, resolved, paged, acknowledged, silenced, attached."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OncallOverride(Base):
    """Someone covers a schedule for a while, on top of every layer; the newest wins where overrides overlap.
    Removing one keeps the row (removed_at) so the history of who covered stays."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(32))
    # Who was on the rota when the override was made (for the hand-off message), if anyone.
    replaced_user_id: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(32))
    # A retried Slack command carries the same key and must not add the override twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    __table_args__ = (Index("ix_oncall_overrides_schedule_ends", "schedule", "ends_at"),)

class SimilarNotice(Base):
    """The one "Has this happened before?" message of an incident: which past incidents it shows, so a title or
    service change updates it in place only when the list changed, and a retried delivery never posts a second one.
    `outbox_id` is the delivery that reserved the post (a reservation with no `message_ts` yet is in flight)."""

    __tablename__ = "similar_notices"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    shown: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HomeViewer(Base):
    """Someone whose Home tab sevbot keeps current, shared by every replica: whichever replica commits a change marks
    the viewers dirty, and whichever claims a publish first (a conditional UPDATE on `published_at`) sends it, so the
    one-publish-per-interval bound holds across replicas and a change is published once (bot/home/refresh.py).
    `digest` is the SHA-256 of the view last published (a repeat is not sent); `notice` waits to be shown at the top
    of the next publish; `dirty_since` is set while a publish is owed."""

    __tablename__ = "home_viewers"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    digest: Mapped[str | None] = mapped_column(String(64))
    notice: Mapped[str | None] = mapped_column(Text)
    dirty_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
