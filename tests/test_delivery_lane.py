"""Pages have a delivery lane of their own (bot/core/delivery.py): a page committed while a delivery pass is busy
with slow effects goes out at once, not after the pass's batch."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import SystemClock
from bot.core.background import Background
from bot.core.delivery import Delivery
from bot.core.outbox import Outbox, enqueue
from bot.db.engine import Database
from bot.db.models import Base, OutboxItem
from bot.slack.gateway import SlackGateway


def _done(db: Database, item_ids: list[int]) -> set[int]:
    with db.reading() as session:
        return set(session.scalars(select(OutboxItem.id).where(OutboxItem.id.in_(item_ids), OutboxItem.done_at.is_not(None))))


def _wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_page_goes_out_while_a_delivery_pass_is_stuck_on_slow_effects(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'lane.db'}")
    Base.metadata.create_all(db.engine)
    clock = SystemClock()
    outbox = Outbox(db, SlackGateway(WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")), clock)  # unused here
    release, slow_started = threading.Event(), threading.Event()
    paged: list[dict[str, Any]] = []

    def slow(_gateway: SlackGateway, _payload: dict[str, Any]) -> None:
        slow_started.set()
        release.wait(20)  # an alert message edit stuck behind a slow Slack

    outbox.register("slow_edit", slow)
    outbox.register("alert_page_dm", lambda _gateway, payload: paged.append(payload) or {})
    background = Background(workers=4)
    delivery = Delivery(outbox, background)
    db.after_commit = delivery.after_commit
    try:
        with db.unit_of_work() as session:
            for n in range(3):
                enqueue(session, clock, kind="slow_edit", payload={"n": n})
        assert slow_started.wait(10), "the pass took up the slow edits"
        with db.unit_of_work() as session:
            page_id = enqueue(session, clock, kind="alert_page_dm", payload={"group_id": 1})
        assert page_id is not None
        assert _wait_for(lambda: _done(db, [page_id]) == {page_id}), "the page waited for the pass's batch"
        assert [(p["group_id"], p["_outbox_id"]) for p in paged] == [(1, page_id)], "delivered once"
        with db.reading() as session:
            stuck = session.scalars(select(OutboxItem.id).where(OutboxItem.kind == "slow_edit", OutboxItem.done_at.is_(None))).all()
        assert len(stuck) == 3, "the slow edits were still in flight when the page went out"
    finally:
        release.set()
        delivery.shutdown()
        background.shutdown()
    assert len(_done(db, list(stuck))) == 3 and len(paged) == 1


def test_marking_an_effect_done_never_waits_behind_requests(tmp_path: Path, monkeypatch: Any) -> None:
    """Between Slack carrying out an effect and the outbox marking it done, a crash repeats it: that step must not
    step aside for requests in flight (its claim, background work like any other, may)."""
    from bot.priority import REQUESTS_FIRST

    db = Database(f"sqlite:///{tmp_path / 'mark.db'}")
    Base.metadata.create_all(db.engine)
    clock = SystemClock()
    outbox = Outbox(db, SlackGateway(WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")), clock)
    steps: list[tuple[str, bool]] = []
    step_aside = REQUESTS_FIRST.step_aside

    def recorded() -> None:
        steps.append(("step", REQUESTS_FIRST.exempt()))
        step_aside()
    monkeypatch.setattr(REQUESTS_FIRST, "step_aside", recorded)
    outbox.register("reply", lambda _gateway, _payload: steps.append(("slack", False)) or {})
    with db.unit_of_work(deliver=False) as session:
        item_id = enqueue(session, clock, kind="reply", payload={})
    steps.clear()
    assert item_id is not None and outbox.deliver(item_id)
    slack_at = steps.index(("slack", False))
    assert steps[:slack_at] and not any(exempt for _, exempt in steps[:slack_at]), "the claim steps aside as usual"
    assert steps[slack_at + 1:] == [("step", True)], "one step after Slack: the mark, exempt"


def test_a_backlog_delivers_first_the_incidents_whose_people_are_waiting(tmp_path: Path) -> None:
    """After a restart the backlog may hold a round of reminders for hundreds of incidents; the incident whose
    declarer still waits for "is open in" (a `respond` item), or whose on-call waits for a page, is drained first,
    whatever its id or age. Among the rest, the oldest work goes first."""
    from datetime import timedelta

    from bot.db.models import Incident

    db = Database(f"sqlite:///{tmp_path / 'order.db'}")
    Base.metadata.create_all(db.engine)
    clock = SystemClock()
    outbox = Outbox(db, SlackGateway(WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/")), clock)
    now = clock.now()
    with db.unit_of_work(deliver=False) as session:
        incidents = [Incident(title=f"incident {n}", severity="sev2", status="investigating", declared_by="U0L1",
                              declared_at=now - timedelta(minutes=n)) for n in range(12)]
        session.add_all(incidents)
        session.flush()
        ids = [incident.id for incident in incidents]
        for incident_id in ids[:10]:  # a round of reminders, queued first
            enqueue(session, clock, kind="post", payload={"text": "reminder"}, incident_id=incident_id)
        enqueue(session, clock, kind="respond", payload={"text": "is open in"}, incident_id=ids[11])
        enqueue(session, clock, kind="page_dm", payload={"user": "U0L2"}, incident_id=ids[10])
    groups = outbox.due_groups()
    assert set(groups[:2]) == {ids[10], ids[11]}, groups
    assert groups[2:] == ids[:10], "then the oldest work first"
