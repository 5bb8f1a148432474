"""Use cases on their own: no HTTP, no Slack simulator, no runtime. A SQLite file, a clock the test moves and a
dictionary of people are all a use case needs (`Deps`); these run in milliseconds."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import EscalationPolicy, IncidentConfig, Tier
from bot.core.deps import Deps
from bot.core.errors import BadInput, Refused
from bot.db.engine import Database, Queued
from bot.db.models import Base, OutboxItem, Page, RoleAssignment, Timer
from bot.declare.record import DeclareRequest, declare
from bot.paging.ladder import acknowledge, page_start_due, page_step_due
from bot.roles.assign import assign_role
from bot.scheduler import timers
from bot.scheduler.timing import Timing
from bot.status.change import reopen, set_status

START = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)


class MovableClock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    deleted: bool = False
    is_bot: bool = False


class Directory:
    """The people use cases may ask about, without Slack."""

    def __init__(self, *people: Person, groups: dict[str, tuple[str, ...]] | None = None) -> None:
        self.people = {p.id: p for p in people}
        self.groups = groups or {}

    def user(self, user_id: str) -> Person | None:
        return self.people.get(user_id)

    def usergroup_members(self, group_id: str) -> tuple[str, ...]:
        return self.groups.get(group_id, ())


PEOPLE = Directory(Person("U0L1", "lee"), Person("U0L2", "sam"), Person("U0IC", "ines"), Person("U0BOT", "bot", is_bot=True))
LADDER = EscalationPolicy(tiers=(Tier(targets=("U0L1",), ack_timeout_minutes=5), Tier(targets=("U0L2",), ack_timeout_minutes=5)), repeat=1)


def make_deps(tmp_path: Path, config: IncidentConfig) -> Deps:
    db = Database(f"sqlite:///{tmp_path / 'unit.db'}")
    Base.metadata.create_all(db.engine)
    return Deps(db=db, clock=MovableClock(), config=config, timing=Timing(config), people=PEOPLE)


def open_incident(deps: Deps, severity: str = "sev3", by: str = "U0L1") -> int:
    """Declare, then start the page it called for, as the runtime does right after the ack."""
    declared = declare(deps, DeclareRequest(title="Checkout is failing", severity=severity, declared_by=by))
    with deps.db.unit_of_work() as session:
        for timer in timers.claim_due(session, deps.clock.now(), 100, declared.incident_id):
            assert timer.kind == timers.PAGE_START and declared.pages
            page_start_due(deps, session, timer)
    return declared.incident_id


def current_ic(deps: Deps, incident_id: int) -> list[str]:
    with deps.db.unit_of_work() as session:
        return list(session.scalars(select(RoleAssignment.user_id).where(
            RoleAssignment.incident_id == incident_id, RoleAssignment.role == "ic", RoleAssignment.ended_at.is_(None))))


# -- roles ------------------------------------------------------------------------------------------------------

def test_two_people_taking_command_at_once_one_wins(tmp_path: Path) -> None:
    deps = make_deps(tmp_path, IncidentConfig())
    incident_id = open_incident(deps)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def take(user: str) -> None:
        barrier.wait()
        try:
            outcomes[user] = assign_role(deps, incident_id, "ic", user, user, expected_holder="U0L1")
        except Refused as refused:
            outcomes[user] = f"refused: {refused}"

    threads = [threading.Thread(target=take, args=(user,)) for user in ("U0L2", "U0IC")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [u for u, text in outcomes.items() if "is now Incident Commander" in text]
    assert len(winners) == 1, outcomes
    loser = next(u for u in outcomes if u not in winners)
    assert "changed before your click" in outcomes[loser]
    assert current_ic(deps, incident_id) == winners


def test_a_hand_over_to_a_bot_or_a_stranger_records_nothing(tmp_path: Path) -> None:
    deps = make_deps(tmp_path, IncidentConfig())
    incident_id = open_incident(deps)
    for user, why in (("U0BOT", "is a bot"), ("U0NOBODY", "Slack has no user")):
        with pytest.raises(BadInput, match=why):
            assign_role(deps, incident_id, "ic", user, "U0L1")
    assert current_ic(deps, incident_id) == ["U0L1"]


# -- the escalation ladder ------------------------------------------------------------------------------------

def run_due_timers(deps: Deps) -> list[str]:
    fired = []
    with deps.db.unit_of_work() as session:
        for timer in timers.claim_due(session, deps.clock.now(), 100):
            if timer.kind == timers.PAGE_STEP:
                page_step_due(deps, session, timer)
                fired.append(timer.kind)
    return fired


def page_of(deps: Deps, incident_id: int) -> Page:
    with deps.db.unit_of_work() as session:
        return session.scalars(select(Page).where(Page.incident_id == incident_id)).one()


def test_the_ladder_steps_up_on_timeout_and_ends_exhausted(tmp_path: Path) -> None:
    deps = make_deps(tmp_path, IncidentConfig(escalation_policies={"default": LADDER}))
    clock = deps.clock
    assert isinstance(clock, MovableClock)
    incident_id = open_incident(deps, severity="sev1")
    assert (page_of(deps, incident_id).state, page_of(deps, incident_id).tier) == ("paging", 0)
    assert run_due_timers(deps) == [], "nothing is due before the timeout"
    clock.at += timedelta(minutes=5, seconds=1)
    assert run_due_timers(deps) == [timers.PAGE_STEP]
    assert (page_of(deps, incident_id).state, page_of(deps, incident_id).tier) == ("paging", 1)
    clock.at += timedelta(minutes=5, seconds=1)
    run_due_timers(deps)
    assert page_of(deps, incident_id).state == "exhausted"
    with deps.db.unit_of_work() as session:
        dms = [item.payload["targets"] for item in session.scalars(select(OutboxItem).where(OutboxItem.kind == "page_dm"))]
        live = session.scalars(select(Timer).where(Timer.kind == timers.PAGE_STEP, Timer.done_at.is_(None))).all()
    assert dms == [["U0L1"], ["U0L2"]], "one DM per tier, tier 1 then tier 2"
    assert live == []


def test_a_page_the_declare_called_for_starts_on_the_tick_when_nothing_else_started_it(tmp_path: Path) -> None:
    """The declare records the page start as a timer due at once; the runtime starts it right after the ack. If the
    process dies in between, the tick starts it, once; a second run finds nothing to do."""
    from bot.scheduler.tick import Scheduler

    deps = make_deps(tmp_path, IncidentConfig(escalation_policies={"default": LADDER}))
    declared = declare(deps, DeclareRequest(title="Checkout is failing", severity="sev1", declared_by="U0L1"))
    assert declared.pages
    with deps.db.unit_of_work() as session:
        assert session.scalars(select(Page)).all() == [], "the declare itself pages nobody yet"
    scheduler = Scheduler(deps.db, deps.clock, {timers.PAGE_START: lambda session, timer: page_start_due(deps, session, timer)},
                          deliver_backlog=lambda: None, backlog_due=lambda: False)
    assert scheduler.tick().fired == 1
    assert scheduler.tick().fired == 0 and scheduler.run_due(declared.incident_id) == 0
    page = page_of(deps, declared.incident_id)
    assert (page.state, page.tier, page.reason) == ("paging", 0, "declared SEV1")
    with deps.db.unit_of_work() as session:
        dms = [item.payload["targets"] for item in session.scalars(select(OutboxItem).where(OutboxItem.kind == "page_dm"))]
    assert dms == [["U0L1"]]
    quiet = declare(deps, DeclareRequest(title="A typo on the status page", severity="sev3", declared_by="U0L1"))
    assert not quiet.pages


def test_acknowledging_stops_the_ladder_once(tmp_path: Path) -> None:
    deps = make_deps(tmp_path, IncidentConfig(escalation_policies={"default": LADDER}))
    clock = deps.clock
    assert isinstance(clock, MovableClock)
    incident_id = open_incident(deps, severity="sev1")
    clock.at += timedelta(minutes=2)
    assert "Acknowledged" in acknowledge(deps, incident_id, "U0L1")
    assert "Already acknowledged by <@U0L1>" in acknowledge(deps, incident_id, "U0L2")
    page = page_of(deps, incident_id)
    assert (page.state, page.acked_by, page.acked_at) == ("acked", "U0L1", START + timedelta(minutes=2))
    clock.at += timedelta(minutes=10)
    assert run_due_timers(deps) == [], "the acknowledged tier's timer was cancelled"


def test_a_commit_that_queued_a_page_hands_its_id_to_the_page_lane(tmp_path: Path) -> None:
    """The escalation step's commit names the page DM it queued, so delivery sends it without waiting for a pass."""
    deps = make_deps(tmp_path, IncidentConfig(escalation_policies={"default": LADDER}))
    clock = deps.clock
    assert isinstance(clock, MovableClock)
    incident_id = open_incident(deps, severity="sev1")
    started: list[Queued] = []
    deps.db.after_commit = started.append
    clock.at += timedelta(minutes=5, seconds=1)
    assert run_due_timers(deps) == [timers.PAGE_STEP]
    with deps.db.unit_of_work() as session:
        tier_2 = session.scalars(select(OutboxItem.id).where(OutboxItem.kind == "page_dm").order_by(OutboxItem.id.desc())).first()
    assert tier_2 is not None
    assert [queued.urgent for queued in started] == [(tier_2,)]
    assert incident_id in started[0].incidents


# -- status transitions -----------------------------------------------------------------------------------------

def test_status_moves_only_along_the_configured_transitions(tmp_path: Path) -> None:
    config = IncidentConfig(status_transitions={"investigating": ("identified",), "identified": ("monitoring", "investigating"),
                                                "monitoring": ("resolved", "investigating")})
    deps = make_deps(tmp_path, config)
    incident_id = open_incident(deps)
    with pytest.raises(BadInput, match="can't go from investigating to monitoring. From investigating it can go to: identified"):
        set_status(deps, incident_id, "monitoring", None, "U0L1")
    with pytest.raises(BadInput, match="not a status"):
        set_status(deps, incident_id, "partying", None, "U0L1")
    with pytest.raises(BadInput, match="Resolving needs its validation"):
        set_status(deps, incident_id, "resolved", None, "U0L1")
    assert "already investigating" in set_status(deps, incident_id, "investigating", None, "U0L1")
    assert "is now identified" in set_status(deps, incident_id, "IDENTIFIED", "cause found", "U0L1")
    assert "is now monitoring" in set_status(deps, incident_id, "monitoring", None, "U0L1")
    with pytest.raises(BadInput, match="nothing to reopen"):
        reopen(deps, incident_id, None, "U0L1")


# -- delivery on commit -----------------------------------------------------------------------------------------

def test_a_commit_that_queued_slack_effects_starts_their_delivery(tmp_path: Path) -> None:
    deps = make_deps(tmp_path, IncidentConfig())
    started: list[Queued] = []
    deps.db.after_commit = started.append
    incident_id = open_incident(deps)
    assert started == [], "a sev3 declare queues nothing"
    set_status(deps, incident_id, "identified", None, "U0L1")  # bumps the card: a sync_card effect
    assert started == [Queued(frozenset({incident_id}), ())], "no page among them: nothing for the page lane"
    with pytest.raises(BadInput):
        set_status(deps, incident_id, "nonsense", None, "U0L1")
    assert len(started) == 1, "a use case that changed nothing starts nothing"
