"""Alerts in over HTTP, end to end against the simulator: one group → one living message and one page, escalation
until acknowledged, resolve at the source, declare from an alert, and the refusals (401, 400, 404, 413, 429)."""
from __future__ import annotations

import time

from bot.db.models import OutboxItem
from bot.ids import ActionId
from tests.alerts_harness import (alert_messages, am_payload, dms, groups, pages, post_alert, tick)
from tests.harness import Bot, FakeClock, wait_for


def test_one_group_one_message_one_page_then_escalation_ack_and_resolve(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    body = am_payload(fingerprints=("a1", "a2"))
    first = post_alert(bot.runtime.url, "am", body)
    assert first.status == 200 and first.body["outcome"] == "created", first.body
    # Alertmanager HA: the same notification from the peer, and a retry: nothing new.
    assert post_alert(bot.runtime.url, "am", body).body["outcome"] == "unchanged"
    assert post_alert(bot.runtime.url, "am", body).body["outcome"] == "unchanged"
    bot.settled()
    [message] = alert_messages(bot)
    shown = message.text + str(message.blocks)
    assert "Checkout 5xx above 5%" in shown and "2 firing" in shown and "alertmanager:9093/#/silences/new" in shown
    assert len(pages(bot)) == 1 and pages(bot)[0].alert_group_id == groups(bot)[0].id
    tier1 = [m for m in dms(bot, "U0L1") if "You are paged for an alert" in m.text + str(m.blocks)]
    assert len(tier1) == 1, "the on-call group's members get one DM each"
    # Nobody acknowledges: tier 2 (U0L2 alone) after the timeout.
    clock.advance(minutes=5, seconds=1)
    tick(bot)
    assert pages(bot)[0].tier == 1
    tier2 = [m for m in dms(bot, "U0L2") if "(tier 2)" in m.text + str(m.blocks)]
    assert len(tier2) == 1
    dm_channel = bot.sim.workspace.dm_channel("U0L2")
    assert bot.slack.click("U0L2", dm_channel.id, tier2[0].ts, ActionId.ALERT_ACK).status == 200
    wait_for(lambda: pages(bot)[0].state == "acked", what="acknowledged by the DM button")
    bot.settled()
    assert "Acknowledged by <@U0L2>" in str(bot.sim.workspace.find_message(dm_channel.id, tier2[0].ts).blocks)
    [message] = alert_messages(bot)
    assert "Acknowledged by <@U0L2>" in str(message.blocks) and ActionId.ALERT_ACK not in str(message.blocks)
    clock.advance(minutes=30)
    tick(bot)
    assert pages(bot)[0].tier == 1, "an acknowledged page climbs no further"
    # The source resolves every alert: the message turns green, in place.
    assert post_alert(bot.runtime.url, "am", am_payload("resolved", fingerprints=("a1", "a2"))).status == 200
    bot.settled()
    [message] = alert_messages(bot)
    assert ":large_green_circle:" in str(message.blocks) and groups(bot)[0].state == "resolved"


def test_slack_saying_slow_down_queues_the_message_and_the_page_never_drops_them(alert_bot: Bot, clock: FakeClock) -> None:
    """Past Slack's rate limit (a storm into one channel), each post waits as long as Slack asks and goes out once:
    queued, not dropped, and no DM twice."""
    bot = alert_bot
    bot.sim.inject("chat.postMessage", http_status=429, retry_after=1, times=8)  # more than the client's own retries
    assert post_alert(bot.runtime.url, "am", am_payload()).status == 200

    def delivered() -> bool:
        time.sleep(0.3)  # real time for Slack's answers; fake time only for the waits Slack asked for
        with bot.db.unit_of_work() as session:
            in_flight = any(i.lease_until is not None and i.done_at is None for i in session.query(OutboxItem).all())
        # Between attempts only: slack_sdk sleeps through the 429s in real time, and fake time racing ahead meanwhile
        # would lapse the attempt's lease under it (a second delivery then claims the item: not what is tested here).
        if not in_flight:
            clock.advance(seconds=2)
        bot.runtime.core.scheduler.tick()
        with bot.db.unit_of_work() as session:
            return all(i.done_at is not None for i in session.query(OutboxItem).all())
    wait_for(delivered, timeout=60, what="every alert effect delivered despite the 429s")
    assert len(bot.sim.calls_to("chat.postMessage")) >= 8 + 2, "the 429s were really answered"
    with bot.db.unit_of_work() as session:
        results = [item.result for item in session.query(OutboxItem).all()]
    assert not [r for r in results if r and r.get("failed")], results
    assert len(alert_messages(bot)) == 1
    for person in ("U0L1", "U0L2"):  # the on-call group's members
        assert len([m for m in dms(bot, person) if "You are paged" in m.text]) == 1


def test_a_repeat_is_answered_from_memory_but_a_refire_after_a_resolve_elsewhere_is_not(alert_bot: Bot) -> None:
    """Repeats skip the database; a resolve taken in by another replica, then the same alert firing anew (a new
    startsAt), still re-opens the group here."""
    bot = alert_bot
    assert post_alert(bot.runtime.url, "am", am_payload()).body["outcome"] == "created"
    bot.settled()
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(bot.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    assert post_alert(bot.runtime.url, "am", am_payload()).body["outcome"] == "unchanged"
    # (A delivery pass still finishing in the background may query the outbox meanwhile: only the alert tables count.)
    assert not [s for s in statements if "alert" in s.lower()], "a repeat is answered without touching the database"
    # Another replica took in the resolve (simulated: straight through the use case, not this endpoint).
    from bot.alerts.payloads import parse
    from bot.alerts.receive import receive

    deps = bot.runtime.deps
    receive(deps, "am", parse("alertmanager", am_payload("resolved"), deps.clock.now()))
    refire = post_alert(bot.runtime.url, "am", am_payload(starts_at="2026-12-02T03:20:00Z"))
    assert refire.body["outcome"] == "changed"
    assert groups(bot)[0].state == "firing"
