"""Two replicas behind one load balancer, on one PostgreSQL database, each the real bot over signed HTTP against one
Slack simulator: a Home tab opened through replica B is refreshed after a change committed on replica A, once, and
the one-publish-per-person-per-interval bound holds across the two. Skipped loudly when no PostgreSQL answers (the
supported SQLite shape is one process per file: tests/test_home.py)."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot.db.migrate import upgrade
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from bot.slack_sim.server import RecordedCall
from tests.dbs import postgres_unavailable, postgres_url
from tests.harness import BOT_TOKEN, SIGNING_SECRET, Bot, incident_config, wait_for

pytestmark = pytest.mark.skipif(postgres_unavailable() is not None, reason=str(postgres_unavailable()))

INTERVAL = 1.5  # the per-person bound, shortened so a test sees several intervals
TICK = 0.25  # each replica's tick also looks for owed publishes: it races the replica that marked them


@contextmanager
def two_replicas() -> Iterator[tuple[Bot, Bot]]:
    with postgres_url() as url, SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        upgrade(load_settings(database_url=url).database_url)
        bots: list[Bot] = []
        try:
            for name in ("a", "b"):
                settings = load_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_app_token=None,
                                         slack_api_url=sim.api_url, database_url=url, sevbot_host="127.0.0.1", sevbot_port=0,
                                         sevbot_config=None, sevbot_runbooks=None, sevbot_replica_id=f"replica-{name}")
                runtime = Runtime.create(settings, incident_config(), sweep_seconds=3600, tick_seconds=TICK)
                assert runtime.core.home is not None
                runtime.core.home.interval = INTERVAL
                runtime.start_background()
                bots.append(Bot(runtime, sim, SlackDriver(sim, runtime.url + "/slack/events", SIGNING_SECRET)))
            yield bots[0], bots[1]
        finally:
            for bot in bots:
                bot.runtime.stop()
        assert sim.violations == [], f"the bot made Web API calls that break Slack's spec or Block Kit: {sim.violations}"


def publishes(bot: Bot, user: str) -> list[RecordedCall]:
    return [c for c in bot.sim.calls_to("views.publish") if c.ok and c.args.get("user_id") == user]


def tab(bot: Bot, user: str) -> str:
    home = bot.slack.home_view(user)
    return "" if home is None else str(home.view["blocks"])


def open_home(bot: Bot, user: str) -> None:
    # Each driver numbers its event ids from 1: unique ones, or the other replica would take a repeat for a retry.
    assert bot.slack.app_home_opened(user, event_id=f"Ev{uuid.uuid4().hex}").status == 200


def declare(bot: Bot, user: str, text: str) -> None:
    response = bot.slack.slash_command(user, f"declare {text}")
    assert response.status == 200, response.text


def views(calls: list[RecordedCall]) -> list[Any]:
    return [c.args["view"] for c in calls]


def test_a_change_on_replica_a_reaches_a_tab_opened_on_replica_b_once() -> None:
    with two_replicas() as (a, b):
        open_home(b, "U0L1")
        wait_for(lambda: publishes(b, "U0L1"), what="the tab opened on B published")
        assert "No incident is open" in tab(b, "U0L1")

        changed_at = time.monotonic()
        declare(a, "U0IC", "sev3 Replica A's incident")
        incident = a.wait_provisioned(1)
        # B never saw the declare; the tab it opened shows the incident and its channel within the bound anyway.
        wait_for(lambda: f"<#{incident.channel_id}>" in tab(a, "U0L1"), timeout=INTERVAL + 5, what="the incident on the tab")
        assert time.monotonic() - changed_at < 2 * INTERVAL + 4
        a.settled()
        time.sleep(INTERVAL + 1)  # anything still owed lands

        # One more change, on A, once the tab is current: exactly one publish, by one of the two replicas.
        before = len(publishes(a, "U0L1"))
        assert "identified" in a.say("U0IC", "status identified Bad deploy", str(incident.channel_id))
        wait_for(lambda: "· identified ·" in tab(a, "U0L1"), timeout=INTERVAL + 5, what="the new status on the tab")
        time.sleep(INTERVAL + 1.5)
        calls = publishes(a, "U0L1")
        assert len(calls) == before + 1, [c.args["view"]["blocks"][-1] for c in calls[before:]]
        # Nothing was sent twice: each publish differs from the one before it.
        sent = views(calls)
        assert all(x != y for x, y in zip(sent, sent[1:]))


def test_the_per_person_bound_holds_across_replicas() -> None:
    """Declares and opens alternate between A and B for a few intervals: U0L1's tab is published at most once per
    interval in all (with an in-memory bound per replica, each replica publishes at its own rate: twice as often)."""
    with two_replicas() as (a, b):
        open_home(a, "U0L1")
        open_home(b, "U0L1")
        started = time.monotonic()
        n = 12  # over four intervals (the tab lists 30 incidents at most)
        for i in range(n):
            here, there = (a, b) if i % 2 == 0 else (b, a)
            declare(here, "U0IC", f"sev3 Burst {i}")
            open_home(there, "U0L1")
            time.sleep(max(0.0, started + (i + 1) * 4 * INTERVAL / n - time.monotonic()))
        wait_for(lambda: all(f"Burst {i}" in tab(a, "U0L1") for i in range(n)), timeout=INTERVAL + 10,
                 what="the tab listing every incident")
        a.settled()
        b.settled()
        time.sleep(INTERVAL + 1)
        elapsed = time.monotonic() - started
        calls = publishes(a, "U0L1")
        gaps = [round(y.at - x.at, 2) for x, y in zip(calls, calls[1:])]
        # Claims are an interval apart; what reaches Slack may come a little sooner after the one before (the earlier
        # publish's render and request took longer).
        assert all(gap >= INTERVAL - 0.5 for gap in gaps), gaps
        assert 2 <= len(calls) <= 2 + int(elapsed // INTERVAL), (len(calls), elapsed, n)
        sent = views(calls)
        assert all(x != y for x, y in zip(sent, sent[1:]))
