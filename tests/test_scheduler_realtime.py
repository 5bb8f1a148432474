"""The scheduler wired for real: second-long intervals over HTTP, two replicas on PostgreSQL, and SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from bot.db.migrate import upgrade
from bot.db.models import Incident, Page, RoleAssignment, TimelineEvent, Timer
from bot.settings import load_settings
from bot.slack_sim import SlackSimulator, Workspace
from bot.slack_sim.state import Channel
from tests.dbs import postgres_unavailable, postgres_url
from tests.harness import BOT_TOKEN, SIGNING_SECRET, paging_config, running_bot, wait_for
from tests.test_cli import SEVBOT, _env, _free_port, _healthy


def test_reminders_and_escalation_in_real_time(tmp_path: Path) -> None:
    """SEVBOT_UPDATE_INTERVAL=2s and SEVBOT_ACK_TIMEOUT=2s: reminders arrive, tier 2 is paged, an ack stops it."""
    with running_bot(f"sqlite:///{tmp_path / 'rt.db'}", paging_config(), tick_seconds=0.25,
                     sevbot_update_interval="2s", sevbot_ack_timeout="2s") as bot:
        bot.slack.slash_command("U0L1", "declare sev1 Checkout failing")
        bot.slack.slash_command("U0L1", "declare sev1 Login failing")
        first, second = bot.wait_provisioned(1), bot.wait_provisioned(2)
        assert "Acknowledged" in bot.slack.slash_command("U0L1", "ack", channel_id=second.channel_id).json()["text"]
        messages = bot.sim.workspace.messages
        wait_for(lambda: sum("stakeholder update for INC-1 is due" in m.text for m in messages(first.channel_id)) >= 2,
                 timeout=15, what="two reminders for INC-1")
        wait_for(lambda: any("(tier 2" in m.text for m in messages(first.channel_id)), timeout=15, what="tier 2 paged for INC-1")
        time.sleep(2.5)
        assert not any("(tier 2" in m.text for m in messages(second.channel_id)), "no tier 2 after an ack"
        assert any("stakeholder update for INC-2 is due" in m.text for m in messages(second.channel_id))


pg = pytest.mark.skipif(postgres_unavailable() is not None, reason=str(postgres_unavailable()))


def _seed(url: str, sim: SlackSimulator, count: int, *, due_in: float = 0.5) -> None:
    """Open incidents whose channels already exist, each with an update reminder due shortly."""
    engine = create_engine(load_settings(database_url=url).database_url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for n in range(1, count + 1):
            channel = f"CLOAD{n:04d}"
            sim.workspace.channels[channel] = Channel(channel, f"sev1-load-{n}", creator="U0BOT", members={"U0BOT", "U0L1"})
            conn.execute(insert(Incident.__table__).values(
                id=n, title=f"Load {n}", severity="sev3", status="investigating", declared_by="U0L1", declared_at=now,
                channel_id=channel, channel_name=f"sev1-load-{n}", provisioned_at=now, provision_attempts=1,
                card_version=0, card_synced_version=0))
            conn.execute(insert(RoleAssignment.__table__).values(incident_id=n, role="ic", user_id="U0L1", assigned_by="U0L1", assigned_at=now))
            conn.execute(insert(Timer.__table__).values(incident_id=n, kind="update_reminder", ref_id=0,
                                                        due_at=now + timedelta(seconds=due_in), fired=0, fence=0))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('incidents_id_seq', :n)"), {"n": count})
    engine.dispose()


def _serve(tmp_path: Path, url: str, sim: SlackSimulator, name: str, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen([*SEVBOT, "serve"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=_env(
        tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=sim.api_url, SEVBOT_PORT=str(port), **env))
    wait_for(lambda: _healthy(port), timeout=30, what=f"{name} healthy")
    return process, port


def _deliver_leftovers(url: str, sim: SlackSimulator) -> None:
    from bot.runtime import Runtime

    settings = load_settings(database_url=url, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                             slack_api_url=sim.api_url, sevbot_port=0)
    runtime = Runtime.create(settings, paging_config(), sweep_seconds=3600, tick_seconds=3600)
    try:
        with runtime.deps.db.unit_of_work() as session:
            session.execute(text("UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL"))
        runtime.core.outbox.drain(limit=10_000)
    finally:
        runtime.stop()


@pg
def test_two_replicas_fire_every_reminder_exactly_once(tmp_path: Path) -> None:
    with postgres_url() as url, SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        upgrade(load_settings(database_url=url).database_url)
        _seed(url, sim, 200)
        replicas = [_serve(tmp_path, url, sim, f"replica{i}", SEVBOT_UPDATE_INTERVAL="1s")[0] for i in (1, 2)]
        try:
            time.sleep(6)
        finally:
            for process in replicas:
                process.terminate()
            for process in replicas:
                process.wait(timeout=15)
        _deliver_leftovers(url, sim)  # what was decided but not yet posted when the replicas stopped
        engine = create_engine(load_settings(database_url=url).database_url)
        with engine.connect() as conn:
            fired = Counter(row[0] for row in conn.execute(select(TimelineEvent.incident_id).where(TimelineEvent.kind == "update_reminder")))
        engine.dispose()
        posted = Counter()
        for n in range(1, 201):
            posted[n] = sum("stakeholder update for" in m.text for m in sim.workspace.messages(f"CLOAD{n:04d}"))
        assert sum(fired.values()) >= 200 * 3, f"reminders kept coming: {sum(fired.values())}"
        mismatched = {n: (posted[n], fired[n]) for n in range(1, 201) if posted[n] != fired[n]}
        assert not mismatched, f"each decided reminder posted once, none twice: (posted, fired) {dict(list(mismatched.items())[:10])}"
        assert max(fired.values()) <= 7, "a 1 s cadence over ~6 s: no incident reminded twice per interval"
        # both replicas did share the work
        logs = [(tmp_path / f"replica{i}.log").read_text() for i in (1, 2)]
        assert all("sevbot listening" in log for log in logs)


@pg
def test_sigkill_mid_escalation_loses_and_repeats_nothing(tmp_path: Path) -> None:

    config = tmp_path / "sevbot.toml"
    config.write_text(
        'stakeholder_channel = "C0STAKE"\n'
        '[escalation_policies.default]\nrepeat = 1\n'
        '[[escalation_policies.default.tiers]]\ntargets = ["U0L1"]\n'
        '[[escalation_policies.default.tiers]]\ntargets = ["U0L2"]\n'
        '[[escalation_policies.default.tiers]]\ntargets = ["U0IC"]\n')
    with postgres_url() as url, SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN) as sim:
        upgrade(load_settings(database_url=url).database_url)
        _seed(url, sim, 30, due_in=3600)
        engine = create_engine(load_settings(database_url=url).database_url)
        now = datetime.now(timezone.utc)
        policy = {"tiers": [{"targets": [u], "ack_timeout_s": 1.0} for u in ("U0L1", "U0L2", "U0IC")], "repeat": 1, "escalation_contact": []}
        with engine.begin() as conn:
            for n in range(1, 31):
                page_id = conn.execute(insert(Page.__table__).values(
                    incident_id=n, policy_name="default", policy=policy, tier=0, round=1, state="paging", reason="test",
                    context={}, started_by="U0L1", started_at=now).returning(Page.__table__.c.id)).scalar_one()
                conn.execute(insert(Timer.__table__).values(incident_id=n, kind="page_step", ref_id=page_id,
                                                            due_at=now + timedelta(seconds=0.5 + (n % 3)), fired=0, fence=0))
        env = {"SEVBOT_CONFIG": str(config)}
        first, _port = _serve(tmp_path, url, sim, "before-kill", **env)
        time.sleep(1.5)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second, _port = _serve(tmp_path, url, sim, "after-restart", **env)
        try:
            def all_done() -> bool:
                with engine.connect() as conn:
                    return conn.scalar(select(Page.__table__.c.id).where(Page.__table__.c.state == "paging").limit(1)) is None
            wait_for(all_done, timeout=30, what="every ladder walked to the end")
        finally:
            second.terminate()
            second.wait(timeout=15)
        with engine.connect() as conn:
            steps = Counter((row.incident_id, row.data["tier"]) for row in conn.execute(
                select(TimelineEvent.incident_id, TimelineEvent.data).where(TimelineEvent.kind == "page_escalated")))
            exhausted = Counter(row[0] for row in conn.execute(select(TimelineEvent.incident_id).where(TimelineEvent.kind == "page_exhausted")))
        engine.dispose()
        assert all(steps[(n, tier)] == 1 for n in range(1, 31) for tier in (2, 3)), "each escalation step fired exactly once"
        assert all(exhausted[n] == 1 for n in range(1, 31))
