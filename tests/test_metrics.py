"""`GET /metrics` over HTTP: the counters move when the bot does something, the state read at scrape time is right,
the switch turns it off or onto its own port, and nothing a person typed ever becomes a label.

Counters are module-level (bot/metrics.py) and shared by every Runtime of this test process, so each test reads
how far a counter moved between two scrapes, never its absolute value."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.scheduler import timers
from bot.slack.gateway import RETRIES
from tests.harness import Bot, FakeClock, running_bot, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(bot: Bot, url: str | None = None) -> Samples:
    status, text = _get(url or bot.runtime.url + "/metrics")
    assert status == 200, text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)




def test_a_declare_moves_the_counters_and_the_open_incidents(bot: Bot) -> None:
    before = scrape(bot)
    build = [(dict(labels), v) for (name, labels), v in before.items() if name == "sevbot_build_info"]
    assert len(build) == 1 and build[0][1] == 1 and build[0][0]["version"] and build[0][0]["python"]
    assert value(before, "sevbot_database_up") == 1
    answer = bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    assert answer.status == 200
    bot.wait_provisioned(1)
    after = wait_for(lambda: (s := scrape(bot)) and moved(before, s, "sevbot_slack_api_calls_total",
                                                           method="conversations.create", outcome="ok") == 1 and s,
                     what="the channel's creation counted")
    assert moved(before, after, "sevbot_incidents_declared_total", severity="sev1") == 1
    assert moved(before, after, "sevbot_incidents_declared_total", severity="sev2") == 0
    assert value(after, "sevbot_incidents_open", severity="sev1") == 1
    assert value(after, "sevbot_incidents_open", severity="sev2") == 0  # every configured severity, zeros too
    assert moved(before, after, "sevbot_http_requests_total", kind="slash_command", status="200") == 1
    assert moved(before, after, "sevbot_http_request_duration_seconds_count", kind="slash_command") == 1
    assert moved(before, after, "sevbot_http_requests_total", kind="metrics", status="200") >= 1  # the first scrape
    assert moved(before, after, "sevbot_slack_api_calls_total", method="chat.postMessage", outcome="ok") >= 2
    assert moved(before, after, "sevbot_slack_api_call_duration_seconds_count", method="conversations.create") == 1
    assert "sevbot_outbox_pending" in {name for name, _ in after}
    assert value(after, "sevbot_outbox_oldest_pending_age_seconds") >= 0


def test_pages_acknowledgements_escalations_and_reminders_are_counted(paging_bot: Bot, clock: FakeClock) -> None:
    bot = paging_bot
    before = scrape(bot)
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    channel = bot.wait_provisioned(1).channel_id
    bot.settled()
    started = scrape(bot)
    assert moved(before, started, "sevbot_pages_started_total", kind="incident") == 1

    clock.advance(minutes=6)  # past tier 1's 5-minute timeout: the tick steps up to tier 2
    bot.runtime.core.scheduler.tick()
    bot.settled()
    escalated = scrape(bot)
    assert moved(started, escalated, "sevbot_pages_escalated_total", kind="incident") == 1
    assert moved(started, escalated, "sevbot_scheduler_lateness_seconds_count") == 1
    assert moved(started, escalated, "sevbot_scheduler_lateness_seconds_sum") >= 60  # a minute late on the fake clock
    assert moved(started, escalated, "sevbot_scheduler_tick_duration_seconds_count") >= 1

    clock.advance(minutes=1)
    answer = bot.slack.slash_command("U0L2", "ack", channel_id=channel).json()["text"]
    assert "Acknowledged INC-1" in answer
    acked = scrape(bot)
    assert moved(escalated, acked, "sevbot_pages_acknowledged_total", kind="incident") == 1
    assert moved(escalated, acked, "sevbot_page_time_to_acknowledge_seconds_count", kind="incident") == 1
    assert moved(escalated, acked, "sevbot_page_time_to_acknowledge_seconds_sum", kind="incident") == pytest.approx(420)
    assert moved(escalated, acked, "sevbot_page_time_to_acknowledge_seconds_bucket", kind="incident", le="300.0") == 0
    assert moved(escalated, acked, "sevbot_page_time_to_acknowledge_seconds_bucket", kind="incident", le="600.0") == 1

    bot.make_due(timers.UPDATE_REMINDER)
    bot.runtime.core.scheduler.tick()
    reminded = scrape(bot)
    assert moved(acked, reminded, "sevbot_update_reminders_fired_total") == 1
    assert moved(acked, reminded, "sevbot_pages_escalated_total", kind="incident") == 0


def test_slack_rate_limiting_is_counted_by_method_and_outcome(bot: Bot) -> None:
    before = scrape(bot)
    # More 429s than slack_sdk retries: the announcement's call ends rate limited; the sweep finishes the declare.
    bot.sim.inject("chat.postMessage", http_status=429, retry_after=1, times=RETRIES + 1,
                   when=lambda args: args.get("channel") == "C0STAKE")
    bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
    after = wait_for(lambda: (s := scrape(bot)) and moved(before, s, "sevbot_slack_api_calls_total",
                                                           method="chat.postMessage", outcome="http_429") == 1 and s,
                     timeout=30, what="the rate-limited call counted")
    assert moved(before, after, "sevbot_slack_api_retries_total", method="chat.postMessage", reason="http_429") == RETRIES
    assert moved(before, after, "sevbot_slack_api_call_duration_seconds_sum", method="chat.postMessage") >= RETRIES  # the waits
    wait_for(lambda: [o.done for o in bot.runtime.core.provisioner.sweep()] == [True], timeout=30, what="the sweep finished it")
    assert moved(after, scrape(bot), "sevbot_slack_api_calls_total", method="chat.postMessage", outcome="ok") >= 1


def test_metrics_off_is_a_404(database_url: str) -> None:
    with running_bot(database_url, sevbot_metrics="off") as bot:
        status, _ = _get(bot.runtime.url + "/metrics")
        assert status == 404
        assert _get(bot.runtime.url + "/healthz")[0] == 200
        assert bot.runtime.metrics_server is None


def test_metrics_on_their_own_port(database_url: str) -> None:
    with running_bot(database_url, sevbot_metrics_port=0) as bot:
        assert _get(bot.runtime.url + "/metrics")[0] == 404, "not beside the Slack endpoints any more"
        port = bot.runtime.metrics_port
        assert port is not None and port != bot.runtime.port
        own = f"http://127.0.0.1:{port}"
        samples = scrape(bot, own + "/metrics")
        assert value(samples, "sevbot_database_up") == 1
        assert _get(own + "/slack/events")[0] == 404, "only /metrics there"


def test_no_label_carries_what_people_typed(bot: Bot) -> None:
    title = "Zebra-tango checkout meltdown 4417"
    bot.slack.slash_command("U0L1", f"declare sev2 {title}")
    incident = bot.wait_provisioned(1)
    bot.slack.slash_command("U0L2", "status", channel_id=incident.channel_id)
    bot.settled()
    _, text = _get(bot.runtime.url + "/metrics")
    families = list(text_string_to_metric_families(text))
    # Names, help and labels: where text could leak (a sample's value is a number, and may hold "4417" by chance).
    shown = "\n".join(f"{family.name} {family.documentation} " + " ".join(f"{s.name} {s.labels}" for s in family.samples)
                      for family in families)
    for typed in (title, "Zebra", "4417", "U0L1", "U0L2", incident.channel_id, incident.channel_name):
        assert typed and typed not in shown, f"{typed!r} is in /metrics"
    labels = {(key, val) for family in families for s in family.samples for key, val in s.labels.items()}
    kinds = {val for key, val in labels if key == "kind"}
    assert kinds <= {"slash_command", "block_actions", "view_submission", "event", "alerts", "oncall", "healthz", "metrics", "other",
                     "incident", "alert"}


def test_alerts_are_counted_by_source_and_outcome(alert_bot: Bot) -> None:
    from tests.alerts_harness import am_payload, post_alert

    bot = alert_bot
    before = scrape(bot)
    assert post_alert(bot.runtime.url, "am", am_payload()).status == 200
    assert post_alert(bot.runtime.url, "am", am_payload()).status == 200  # the same notification again
    assert post_alert(bot.runtime.url, "am", am_payload(), token="wrong-token-0123456789").status == 401
    assert post_alert(bot.runtime.url, "nosuchsource", am_payload()).status == 404
    after = scrape(bot)
    assert moved(before, after, "sevbot_alerts_received_total", source="am", outcome="created") == 1
    assert moved(before, after, "sevbot_alerts_received_total", source="am", outcome="unchanged") == 1
    assert moved(before, after, "sevbot_alerts_received_total", source="am", outcome="unauthorized") == 1
    assert not [labels for name, labels in after if dict(labels).get("source") == "nosuchsource"], "a 404 makes no label"
    assert moved(before, after, "sevbot_http_requests_total", kind="alerts", status="200") == 2
    assert moved(before, after, "sevbot_http_requests_total", kind="alerts", status="404") == 1
    assert moved(before, after, "sevbot_pages_started_total", kind="alert") == 1  # the default route pages
