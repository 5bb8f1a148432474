"""Alerts from each kind of sender, with bodies shaped as the real tools send them (tests/alert_payloads/): Grafana's
webhook contact point, PagerDuty Events API v2 (as Datadog or Sentry post it, routing_key in the body) and
Alertmanager's webhook; every refusal stores nothing and calls Slack for nothing; an HA pair's duplicates make one
group, one message, one page; alert text can't ping anyone or smuggle a link; the drop route keeps nothing."""
from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import AlertSource
from bot.db.models import Alert, AlertEvent, AlertGroup, OutboxItem, Page, Timer
from bot.alerts.endpoint import MAX_BODY
from bot.alerts.paging import ALERT_PAGE_STEP
from tests.alerts_harness import (EVENTS_TOKEN, GRAFANA_TOKEN, TOKEN, Reply, alert_messages, alerts_config, am_payload, dms,
                                  groups, pages, post_alert, tick)
from tests.harness import Bot, FakeClock, running_bot

PAYLOADS = Path(__file__).parent / "alert_payloads"
PAGED = "You are paged for an alert"


def sample(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def shown(message: Any) -> str:
    return message.text + json.dumps(message.blocks)


def paged_dms(bot: Bot, user: str) -> list[Any]:
    return [m for m in dms(bot, user) if PAGED in shown(m)]


def header(reply: Reply, name: str) -> str | None:
    return next((value for key, value in reply.headers.items() if key.lower() == name.lower()), None)


def stored(bot: Bot) -> dict[str, int]:
    """How many rows each table the alert path writes holds, and how many Web API calls Slack has seen."""
    with bot.db.unit_of_work() as session:
        counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                  for model in (AlertGroup, Alert, AlertEvent, OutboxItem, Page, Timer)}
    counts["slack_calls"] = len(bot.sim.calls)
    return counts


# --- Grafana ---------------------------------------------------------------------------------------------------------

def test_grafana_firing_then_resolved(alert_bot: Bot) -> None:
    bot = alert_bot
    firing = sample("grafana_firing")
    reply = post_alert(bot.runtime.url, "grafana", firing, GRAFANA_TOKEN)
    assert reply.status == 200 and reply.body["ok"] is True and reply.body["outcome"] == "created", reply.body
    bot.settled()
    [group] = groups(bot)
    assert (group.source, group.group_key, group.state, group.firing) == ("grafana", firing["groupKey"], "firing", 2)
    assert group.title == "Checkout pods are close to their memory limit" and group.severity == "sev1"
    assert group.runbook == "https://runbooks.example.com/checkout/memory"
    [message] = alert_messages(bot)
    assert message.channel == "C0ALERTS"
    text = shown(message)
    assert ":red_circle:" in text and "Checkout pods are close to their memory limit" in text and "2 firing" in text
    assert "https://grafana.example.com/alerting/grafana/fdk2v5q0b3zlsb/view?orgId=1|Source" in text
    [page] = pages(bot)
    assert page.alert_group_id == group.id and page.state == "paging" and page.tier == 0
    assert len(paged_dms(bot, "U0L1")) == 1 and len(paged_dms(bot, "U0L2")) == 1, "tier 1 is the on-call group"
    assert paged_dms(bot, "U0IC") == [], "tier 3 is not paged yet"

    # Grafana sends the same group again, every alert resolved: the one message turns green, in place.
    reply = post_alert(bot.runtime.url, "grafana", sample("grafana_resolved"), GRAFANA_TOKEN)
    assert reply.status == 200 and reply.body["group"] == group.id and reply.body["outcome"] == "changed", reply.body
    bot.settled()
    [resolved] = alert_messages(bot)
    assert resolved.ts == message.ts
    assert ":large_green_circle:" in shown(resolved) and ":red_circle:" not in shown(resolved)
    [group] = groups(bot)
    assert group.state == "resolved" and group.firing == 0
    [page] = pages(bot)
    assert page.state == "cancelled", "the source resolved everything: the ladder stops"


# --- PagerDuty Events API v2 -----------------------------------------------------------------------------------------

def test_events_v2_trigger_acknowledge_resolve_with_routing_key_in_body(alert_bot: Bot, clock: FakeClock) -> None:
    bot = alert_bot
    trigger = sample("events_v2_trigger")
    dedup_key = trigger["dedup_key"]
    assert trigger["routing_key"] == EVENTS_TOKEN
    reply = post_alert(bot.runtime.url, "events", trigger, token=None)  # no Authorization header: routing_key
    assert reply.status == 202, reply.body
    assert reply.body == {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    bot.settled()
    [group] = groups(bot)
    assert (group.source, group.group_key, group.state, group.severity) == ("events", dedup_key, "firing", "sev2")
    assert group.title == trigger["payload"]["summary"]
    assert group.runbook == "https://runbooks.example.com/checkout/latency", "the link titled Runbook"
    [message] = alert_messages(bot)
    assert "Checkout p99 latency above 2s" in shown(message) and "|Source>" in shown(message)
    [page] = pages(bot)
    assert page.state == "paging" and len(paged_dms(bot, "U0L1")) == 1

    # The sender acknowledges: the group is acked by it, and the ladder stops.
    reply = post_alert(bot.runtime.url, "events", sample("events_v2_acknowledge"), token=None)
    assert reply.status == 202 and reply.body["status"] == "success" and reply.body["dedup_key"] == dedup_key
    bot.settled()
    [group] = groups(bot)
    assert group.acked_by == "source:events" and group.acked_at is not None and group.state == "firing"
    [page] = pages(bot)
    assert page.state == "acked" and page.acked_by == "source:events"
    with bot.db.unit_of_work() as session:
        live_steps = session.scalars(select(Timer).where(Timer.kind == ALERT_PAGE_STEP, Timer.done_at.is_(None))).all()
    assert live_steps == [], "no escalation step is left armed"
    [message] = alert_messages(bot)
    assert "Acknowledged by events (the sender)" in shown(message)
    for person in ("U0L1", "U0L2"):  # the page DMs no longer ask them to acknowledge
        [dm] = paged_dms(bot, person)
        assert "alert_acknowledge" not in shown(dm) and "Acknowledged by events (the sender)" in shown(dm), shown(dm)
    clock.advance(minutes=30)
    tick(bot)
    assert pages(bot)[0].tier == 0, "an acknowledged page climbs no further"
    assert [m for m in dms(bot, "U0L2") if "(tier 2)" in shown(m)] == [] and paged_dms(bot, "U0IC") == []
    # A repeated acknowledge changes nothing.
    again = post_alert(bot.runtime.url, "events", sample("events_v2_acknowledge"), token=None)
    assert again.status == 202
    assert groups(bot)[0].message_version == group.message_version

    reply = post_alert(bot.runtime.url, "events", sample("events_v2_resolve"), token=None)
    assert reply.status == 202 and reply.body["dedup_key"] == dedup_key
    bot.settled()
    [group] = groups(bot)
    assert group.state == "resolved" and group.firing == 0 and group.resolved_at is not None
    [message] = alert_messages(bot)
    assert ":large_green_circle:" in shown(message)


# --- Refusals --------------------------------------------------------------------------------------------------------

def refusals() -> list[tuple[str, str, Any, str | None, bytes | None, int, str | None]]:
    """(what, source, body, token, raw body, status, field named)."""
    no_version = am_payload()
    no_version["version"] = "3"
    no_starts = am_payload(fingerprints=("a1", "a2"))
    del no_starts["alerts"][0]["startsAt"]
    bad_action = sample("events_v2_trigger")
    bad_action["event_action"] = "escalate"
    wrong_key = sample("events_v2_trigger")
    wrong_key["routing_key"] = "not-the-routing-key-0123456789"
    huge = am_payload(summary="x" * (MAX_BODY + 1))
    grafana_as_am = sample("grafana_firing")  # version "1" at an Alertmanager source
    return [
        ("wrong token", "am", am_payload(), "wrong-token-0123456789abcdef", None, 401, None),
        ("missing token", "am", am_payload(), None, None, 401, None),
        ("a token of another source", "am", am_payload(), GRAFANA_TOKEN, None, 401, None),
        ("wrong routing_key, no header", "events", wrong_key, None, None, 401, None),
        ("malformed JSON", "am", None, TOKEN, b'{"version": "4", "alerts": [', 400, "body"),
        ("not UTF-8", "am", None, TOKEN, b'{"version": "\xff4"}', 400, "body"),
        ("wrong version", "am", no_version, TOKEN, None, 400, "version"),
        ("Grafana's version at an Alertmanager source", "am", grafana_as_am, TOKEN, None, 400, "version"),
        ("an alert without startsAt", "am", no_starts, TOKEN, None, 400, "alerts[0].startsAt"),
        ("an unknown event_action", "events", bad_action, None, None, 400, "event_action"),
        ("an unknown source", "nope", am_payload(), TOKEN, None, 404, None),
        ("a body over 1 MiB", "am", huge, TOKEN, None, 413, None),
    ]


def test_refusals_store_nothing_and_call_slack_for_nothing(alert_bot: Bot) -> None:
    bot = alert_bot
    bot.settled()
    before = stored(bot)
    assert before["alert_groups"] == 0 and before["outbox"] == 0
    for what, source, body, token, raw, status, field in refusals():
        reply = post_alert(bot.runtime.url, source, body, token, raw=raw)
        assert reply.status == status, (what, reply.status, reply.body)
        assert reply.body.get("ok") is False, (what, reply.body)
        if field is not None:
            assert reply.body["field"] == field, (what, reply.body)
        if status == 401:
            assert header(reply, "WWW-Authenticate") == 'Bearer realm="sevbot"', what
        assert stored(bot) == before, f"{what}: something was stored or sent to Slack"
    bot.settled()
    assert stored(bot) == before
    # The same bot takes the sound version of the last body: the checks above would have seen it.
    reply = post_alert(bot.runtime.url, "am", am_payload())
    assert reply.status == 200 and reply.body["outcome"] == "created", reply.body
    bot.settled()
    after = stored(bot)
    assert after["alert_groups"] == 1 and after["outbox"] > 0 and after["slack_calls"] > before["slack_calls"]


def test_over_the_rate_limit_is_429_with_retry_after_and_stores_nothing(database_url: str) -> None:
    config = alerts_config(sources={"am": AlertSource(kind="alertmanager", token=TOKEN, rate_limit_per_minute=3)})
    with running_bot(database_url, config, clock=FakeClock()) as bot:
        # Three requests use the budget (each kept nothing: the drop route)...
        for _ in range(3):
            reply = post_alert(bot.runtime.url, "am", am_payload(alertname="Watchdog"))
            assert reply.status == 200 and reply.body["outcome"] == "dropped", reply.body
        bot.settled()
        before = stored(bot)
        assert before["alert_groups"] == 0
        # ...so a real firing is turned away, to be retried.
        reply = post_alert(bot.runtime.url, "am", am_payload())
        assert reply.status == 429, reply.body
        assert reply.body["ok"] is False
        wait = header(reply, "Retry-After")
        assert wait is not None and wait.isdigit() and 1 <= int(wait) <= 60, reply.headers
        assert stored(bot) == before
        # The token is checked first: a stranger learns nothing of the budget.
        assert post_alert(bot.runtime.url, "am", am_payload(), "wrong-token-0123456789abcdef").status == 401
        bot.settled()
        assert stored(bot) == before


# --- Duplicates ------------------------------------------------------------------------------------------------------

def test_an_ha_pair_posting_at_once_with_retries_makes_one_group_one_message_one_page(alert_bot: Bot) -> None:
    bot = alert_bot
    body = sample("alertmanager_firing")
    start = threading.Barrier(2)
    replies: list[Reply] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def alertmanager() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(5):  # the notification, then its retries
                reply = post_alert(bot.runtime.url, "am", body)
                with lock:
                    replies.append(reply)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pair = [threading.Thread(target=alertmanager) for _ in range(2)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join(timeout=60)
    assert errors == [] and len(replies) == 10
    assert all(reply.status == 200 for reply in replies), [(r.status, r.body) for r in replies]
    outcomes = sorted(reply.body["outcome"] for reply in replies)
    assert outcomes == ["created"] + ["unchanged"] * 9, outcomes
    assert len({reply.body["group"] for reply in replies}) == 1
    bot.settled()

    [group] = groups(bot)
    assert group.group_key == body["groupKey"] and group.firing == 2
    with bot.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 2
    [message] = alert_messages(bot)
    assert "Pod is crash looping." in shown(message) and "2 firing" in shown(message)
    posts = [c for c in bot.sim.calls_to("chat.postMessage") if c.args.get("channel") == "C0ALERTS"]
    assert len(posts) == 1, "the group's message is posted once"
    [page] = pages(bot)
    assert page.alert_group_id == group.id
    assert len(paged_dms(bot, "U0L1")) == 1 and len(paged_dms(bot, "U0L2")) == 1
    assert paged_dms(bot, "U0IC") == []


# --- Escaping --------------------------------------------------------------------------------------------------------

def test_alert_text_cannot_ping_anyone_or_smuggle_a_link(alert_bot: Bot) -> None:
    bot = alert_bot
    body = am_payload(alertname="<!channel> DiskFull", summary="<!channel> @here disk *full* > 95% <@U0L1>",
                      labels={"team": "<@U0L1> *bold*", "env": "> prod <!here>"})
    for alert in body["alerts"]:
        alert["annotations"]["description"] = "> quoted <!channel>\n*bold* <@U0L1> <https://evil.example|click me>"
        alert["generatorURL"] = "javascript:alert(document.cookie)"
    reply = post_alert(bot.runtime.url, "am", body)
    assert reply.status == 200 and reply.body["outcome"] == "created", reply.body
    bot.settled()
    [message] = alert_messages(bot)
    everything = [message, *dms(bot, "U0L1"), *dms(bot, "U0L2")]
    assert len(everything) == 3, "the message and one page DM each"
    for posted in everything:
        text = shown(posted)
        for raw in ("<!channel>", "<!here>", "<@U0L1>", "<https://evil.example", "javascript:"):
            assert raw not in text, (raw, text)
    text = shown(message)
    assert "&lt;!channel&gt;" in text and "&lt;@U0L1&gt;" in text and "&gt; quoted" in text
    assert "&lt;!here&gt;" in text, "label values shown are escaped too"
    assert "|Source>" not in text, "a javascript: link is not rendered as a link"
    # The unsafe link was dropped as it came in, not only hidden when shown.
    with bot.db.unit_of_work() as session:
        assert all(a.generator_url is None for a in session.scalars(select(Alert)))


# --- The drop route --------------------------------------------------------------------------------------------------

def test_the_drop_route_answers_200_and_keeps_nothing(alert_bot: Bot) -> None:
    bot = alert_bot
    bot.settled()
    before = stored(bot)
    watchdog = copy.deepcopy(sample("alertmanager_firing"))
    for alert in watchdog["alerts"]:
        alert["labels"]["alertname"] = "Watchdog"
    watchdog["commonLabels"]["alertname"] = watchdog["groupLabels"]["alertname"] = "Watchdog"
    for _ in range(2):
        reply = post_alert(bot.runtime.url, "am", watchdog)
        assert reply.status == 200, reply.body
        assert reply.body == {"ok": True, "group": None, "outcome": "dropped"}
    bot.settled()
    assert stored(bot) == before and before["alert_groups"] == 0
    assert alert_messages(bot) == []
