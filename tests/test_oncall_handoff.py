"""Hand-off DMs: at each hand-off the incoming person hears it once, with the open incidents and unacknowledged pages
they inherit; the user group follows; a restart across hand-offs sends one DM for the shift in force, none twice."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from bot.db.models import OncallHandoff, Timer
from bot.oncall.handoff import ONCALL_HANDOFF
from tests.harness import Bot, FakeClock, running_bot, wait_for
from tests.oncall_harness import NEXT_HANDOFF, WEDNESDAY_NOON, dms, handoff_dms, oncall_config, weekly


def live_timers(bot: Bot) -> list[Timer]:
    with bot.db.unit_of_work() as session:
        return list(session.scalars(select(Timer).where(Timer.kind == ONCALL_HANDOFF, Timer.done_at.is_(None)).order_by(Timer.ref_id)))


def tick(bot: Bot) -> None:
    bot.runtime.core.tick()
    bot.settled()


def test_each_schedule_has_one_timer_due_at_its_next_handoff(tmp_path: Path) -> None:
    clock = FakeClock(WEDNESDAY_NOON)
    with running_bot(f"sqlite:///{tmp_path / 'timers.db'}", oncall_config(), clock=clock) as bot:
        due = sorted(timer.due_at for timer in live_timers(bot))
        # database: Ines until 18:00 Berlin today; payments: Lee from Monday 09:00 Berlin
        assert due == [datetime(2026, 1, 14, 17, 0, tzinfo=timezone.utc), NEXT_HANDOFF]
        tick(bot)
        assert dms(bot, "U0L1") == [] and dms(bot, "U0IC") == [], "starting to watch a schedule DMs nobody"


def test_handoff_dm_once_with_the_incidents_and_pages_inherited(paging_bot_oncall: Bot) -> None:
    bot, clock = paging_bot_oncall, paging_bot_oncall.runtime.deps.clock
    declared = bot.slack.slash_command("U0IC", "declare sev1 Checkout <!channel> failing").json()["text"]
    assert "INC-1" in declared
    incident = bot.wait_provisioned(1)
    bot.settled()
    clock.at = NEXT_HANDOFF + timedelta(seconds=1)  # type: ignore[attr-defined]
    tick(bot)
    [dm] = handoff_dms(bot, "U0L1")
    assert dm.text.startswith(":pager: <@U0L1>, you are now on call for *payments* until <!date^")
    assert "|Mon 26 Jan 09:00 CET>" in dm.text, "until the next hand-off, a week on"
    assert f"• *INC-1* SEV1 · High · Checkout &lt;!channel&gt; failing · <#{incident.channel_id}>" in dm.text
    assert "*Pages nobody has acknowledged yet:*" in dm.text and f"• INC-1 · Checkout &lt;!channel&gt; failing · <#{incident.channel_id}>" in dm.text
    assert bot.sim.workspace.usergroups["S0ONCALL"].users == ["U0L1"], "the schedule's user group follows the rota"
    for _ in range(3):  # the tick again, an hour later: nothing new
        tick(bot)
        clock.advance(hours=1)  # type: ignore[attr-defined]
    tick(bot)
    assert len(handoff_dms(bot, "U0L1")) == 1
    assert datetime(2026, 1, 26, 8, 0, tzinfo=timezone.utc) in [t.due_at for t in live_timers(bot)], "re-armed a week on"
    with bot.db.unit_of_work() as session:
        rows = list(session.scalars(select(OncallHandoff).where(OncallHandoff.schedule == "payments").order_by(OncallHandoff.at)))
    assert [(r.at, r.user_id) for r in rows][-1] == (NEXT_HANDOFF, "U0L1")


def test_a_cover_hands_off_at_once_and_its_removal_gives_the_shift_back(paging_bot_oncall: Bot) -> None:
    bot = paging_bot_oncall
    bot.say("U0L1", "oncall cover payments 2h", "C0GENERAL")
    tick(bot)
    assert len(handoff_dms(bot, "U0L1")) == 1, "the person covering hears they are on call, with what they inherit"
    assert bot.sim.workspace.usergroups["S0ONCALL"].users == ["U0L1"]
    bot.say("U0L1", "oncall overrides", "C0GENERAL")
    listing = wait_for(lambda: next((e for e in bot.sim.workspace.ephemerals if "On-call overrides (1)" in e.text), None))
    value = next(b["accessory"]["value"] for b in listing.blocks if b.get("accessory"))
    bot.slack.click_ephemeral("U0L1", listing.channel, listing.message_ts, "oncall_remove_override", value)
    wait_for(lambda: any("Removed" in p.body.get("text", "") for p in bot.sim.workspace.response_posts))
    tick(bot)
    assert any("you are on call for *payments* again" in m.text for m in dms(bot, "U0L2"))
    assert handoff_dms(bot, "U0L2") == [], "Sam's shift was announced before; he hears it is back, once"
    assert bot.sim.workspace.usergroups["S0ONCALL"].users == ["U0L2"]


def test_down_across_two_handoffs_one_dm_for_the_shift_in_force_and_none_twice_after_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    with running_bot(url, oncall_config(), clock=FakeClock(WEDNESDAY_NOON)) as bot:
        tick(bot)
        assert handoff_dms(bot, "U0L1") == []
    later = FakeClock(datetime(2026, 1, 27, 10, 0, tzinfo=timezone.utc))  # Lee's week (19 Jan) and Sam's (26 Jan) began
    with running_bot(url, oncall_config(), clock=later) as bot:
        tick(bot)
        tick(bot)
        assert handoff_dms(bot, "U0L1") == [], "no DM for a shift that is over"
        [dm] = handoff_dms(bot, "U0L2")
        assert "|Mon 02 Feb 09:00 CET>" in dm.text
    with running_bot(url, oncall_config(), clock=later) as bot:  # and once more: that shift was announced
        tick(bot)
        assert handoff_dms(bot, "U0L2") == [] and handoff_dms(bot, "U0L1") == []


def test_a_schedule_edited_between_restarts_announces_who_is_on_call_now(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edited.db'}"
    with running_bot(url, oncall_config(), clock=FakeClock(WEDNESDAY_NOON)) as bot:
        tick(bot)
    edited = oncall_config()
    payments = edited.schedules["payments"].model_copy(update={"layers": (weekly(("U0L2", "U0EXEC")),)})
    edited = oncall_config(payments=payments)
    with running_bot(url, edited.model_copy(update={"schedules": {"payments": payments}}), clock=FakeClock(WEDNESDAY_NOON)) as bot:
        tick(bot)
        assert len(handoff_dms(bot, "U0EXEC")) == 1, "the edit put Erin on call now: she hears it at start"
        # `database` left the config: its timer is finished, nothing about it is sent
        assert [t.due_at for t in live_timers(bot)] == [NEXT_HANDOFF]
        assert dms(bot, "U0IC") == []


class ShiftedClock:
    """Real time moved by a fixed amount: the real-time scheduler runs, and a hand-off of January 2026 comes due."""

    def __init__(self, at: datetime) -> None:
        self.delta = at - datetime.now(timezone.utc)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.delta


def test_the_real_time_scheduler_fires_the_handoff_once(tmp_path: Path) -> None:
    clock = ShiftedClock(NEXT_HANDOFF - timedelta(seconds=1.5))
    with running_bot(f"sqlite:///{tmp_path / 'rt.db'}", oncall_config(), clock=clock, tick_seconds=0.25) as bot:
        assert handoff_dms(bot, "U0L1") == []
        wait_for(lambda: handoff_dms(bot, "U0L1"), timeout=10, what="the hand-off DM")
        time.sleep(1.5)
        assert len(handoff_dms(bot, "U0L1")) == 1
        assert bot.sim.workspace.usergroups["S0ONCALL"].users == ["U0L1"]


CRASH_CONFIG = """
[schedules.payments]
time_zone = "UTC"
calendar_secret = "crash-test-calendar-secret"
[[schedules.payments.layers]]
name = "primary"
users = ["U0L2"]
rotation = "weekly"
handoff = "09:00"
start = 2026-01-05
"""


def test_sigkill_before_and_after_a_handoff_sends_its_dm_exactly_once(tmp_path: Path) -> None:
    """A real `sevbot serve`: killed (SIGKILL) before a hand-off, restarted after it: the DM goes out, once; killed
    again once it has, and restarted: no second DM. The hand-off is the end of a cover Lee took (an override row
    ending a few seconds from now): Sam is on call again."""
    import os
    import signal
    import subprocess

    from sqlalchemy import create_engine, func, insert

    from bot.db.migrate import upgrade
    from bot.db.models import OncallOverride
    from bot.settings import load_settings
    from bot.slack_sim import SlackSimulator, Workspace
    from tests.harness import BOT_TOKEN, SIGNING_SECRET
    from tests.test_cli import SEVBOT, _env, _free_port, _healthy

    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(load_settings(database_url=url).database_url)
    config = tmp_path / "sevbot.toml"
    config.write_text(CRASH_CONFIG, encoding="utf-8")
    engine = create_engine(load_settings(database_url=url).database_url)
    now = datetime.now(timezone.utc)
    handoff = now + timedelta(seconds=15)
    with engine.begin() as conn:
        conn.execute(insert(OncallOverride.__table__).values(
            schedule="payments", user_id="U0L1", replaced_user_id="U0L2", starts_at=now - timedelta(hours=1), ends_at=handoff,
            created_by="U0L1", created_at=now - timedelta(hours=1)))
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()

    def start(name: str) -> subprocess.Popen[bytes]:
        port = _free_port()
        log = (tmp_path / f"{name}.log").open("w")
        process = subprocess.Popen([*SEVBOT, "serve"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=_env(
            tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=sim.api_url,
            SEVBOT_PORT=str(port), SEVBOT_REPLICA_ID="replica-a", SEVBOT_CONFIG=str(config)))
        wait_for(lambda: _healthy(port), timeout=30, what=f"{name} healthy")
        return process

    def handoff_dms_to(user: str) -> int:
        return sum("you are now on call for *payments*" in c.args.get("text", "") and c.args.get("channel") == user and c.ok
                   for c in sim.calls_to("chat.postMessage"))

    try:
        first = start("before-handoff")
        assert datetime.now(timezone.utc) < handoff - timedelta(seconds=3), "started too slowly for this scenario"
        time.sleep(max(0.0, (handoff - timedelta(seconds=2) - datetime.now(timezone.utc)).total_seconds()))
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert handoff_dms_to("U0L2") == 0, "killed before the hand-off"
        time.sleep(max(0.0, (handoff + timedelta(seconds=1) - datetime.now(timezone.utc)).total_seconds()))
        second = start("after-handoff")
        wait_for(lambda: handoff_dms_to("U0L2") >= 1, timeout=15, what="the hand-off DM after the restart")
        time.sleep(1)
        os.kill(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
        third = start("again")
        time.sleep(3)
        third.terminate()
        third.wait(timeout=15)
        assert handoff_dms_to("U0L2") == 1 and handoff_dms_to("U0L1") == 0
        with engine.connect() as conn:
            recorded = conn.scalar(select(func.count()).select_from(OncallHandoff).where(OncallHandoff.user_id == "U0L2"))
        assert recorded == 1
    finally:
        sim.stop()
        engine.dispose()


def test_two_replicas_on_postgresql_send_each_handoff_dm_exactly_once(tmp_path: Path) -> None:
    """Two `sevbot serve` replicas share one PostgreSQL database: 100 schedules hand off at the same second (each one
    the end of a cover, an override row ending a few seconds after both are up); every incoming person gets one DM."""
    import pytest
    from sqlalchemy import create_engine, func, insert

    from bot.db.migrate import upgrade
    from bot.db.models import OncallOverride
    from bot.settings import load_settings
    from bot.slack_sim import SlackSimulator, Workspace
    from bot.slack_sim.state import User
    from tests.dbs import postgres_unavailable, postgres_url
    from tests.harness import BOT_TOKEN
    from tests.test_scheduler_realtime import _serve

    if postgres_unavailable() is not None:
        pytest.skip(str(postgres_unavailable()))
    count = 100
    config = tmp_path / "sevbot.toml"
    config.write_text("".join(
        f'[schedules.s{n:03d}]\ntime_zone = "UTC"\ncalendar_secret = "replica-calendar-secret-{n:03d}"\n'
        f'[[schedules.s{n:03d}.layers]]\nname = "primary"\nusers = ["UIN{n:03d}"]\nrotation = "weekly"\nhandoff = "09:00"\n'
        f"start = 2026-01-05\n" for n in range(1, count + 1)), encoding="utf-8")
    workspace = Workspace().seed_default()
    for n in range(1, count + 1):
        for user in (f"UIN{n:03d}", f"UCO{n:03d}"):
            workspace.users[user] = User(user, user.lower())
    with postgres_url() as url, SlackSimulator(workspace, bot_token=BOT_TOKEN) as sim:
        upgrade(load_settings(database_url=url).database_url)
        engine = create_engine(load_settings(database_url=url).database_url)
        now = datetime.now(timezone.utc)
        handoff = now + timedelta(seconds=25)
        with engine.begin() as conn:
            conn.execute(insert(OncallOverride.__table__), [dict(
                schedule=f"s{n:03d}", user_id=f"UCO{n:03d}", replaced_user_id=f"UIN{n:03d}", starts_at=now - timedelta(hours=1),
                ends_at=handoff, created_by=f"UCO{n:03d}", created_at=now - timedelta(hours=1)) for n in range(1, count + 1)])
        replicas = [_serve(tmp_path, url, sim, f"replica{i}", SEVBOT_CONFIG=str(config))[0] for i in (1, 2)]
        try:
            assert datetime.now(timezone.utc) < handoff, "the replicas started too slowly for this scenario"

            def dms_to(user: str) -> int:
                return sum(c.ok and c.args.get("channel") == user and "you are now on call for" in c.args.get("text", "")
                           for c in sim.calls_to("chat.postMessage"))
            wait_for(lambda: all(dms_to(f"UIN{n:03d}") for n in range(1, count + 1)), timeout=40, what="every hand-off DM")
            time.sleep(2)
        finally:
            for process in replicas:
                process.terminate()
            for process in replicas:
                process.wait(timeout=15)
        assert [n for n in range(1, count + 1) if dms_to(f"UIN{n:03d}") != 1] == []
        assert sum(dms_to(f"UCO{n:03d}") for n in range(1, count + 1)) == 0, "starting to watch a schedule DMs nobody"
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(OncallHandoff).where(OncallHandoff.user_id.like("UIN%"))) == count
        engine.dispose()
        logs = [(tmp_path / f"replica{i}.log").read_text() for i in (1, 2)]
        assert all("sevbot listening" in log for log in logs)
