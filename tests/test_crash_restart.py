"""SIGKILL in the middle of provisioning, then a restart: a real `sevbot serve` process, signed HTTP, the simulator.

Ten declares are in flight when the process dies. After the restart every acknowledged declare is recorded, each
incident gets exactly one channel, one card and one announcement, its declarer is told "is open in" (twice only if
the kill cut that very delivery: a response_url post can't be looked up), and the restarted process finishes its
interrupted declares at once, not when their leases would have lapsed. And a kill in the middle of a page's DMs: the
restarted process finds the DMs that landed and sends none twice.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, select

from bot.db.migrate import upgrade
from bot.db.models import Incident, OutboxItem
from bot.settings import load_settings
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from tests.harness import BOT_TOKEN, SIGNING_SECRET, wait_for
from tests.test_cli import SEVBOT, _env, _free_port, _healthy

DECLARES = 10
ACK = re.compile(r"Declaring INC-(\d+)")


def _start(tmp_path: Path, url: str, sim: SlackSimulator, port: int, name: str, settings: str = "") -> subprocess.Popen[bytes]:
    config = tmp_path / "sevbot.toml"
    config.write_text('stakeholder_channel = "C0STAKE"\n' + settings, encoding="utf-8")
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen([*SEVBOT, "serve"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=_env(
        tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=sim.api_url,
        SEVBOT_PORT=str(port), SEVBOT_REPLICA_ID="replica-a", SEVBOT_CONFIG=str(config)))
    wait_for(lambda: _healthy(port), timeout=30, what=f"{name} healthy")
    return process


def test_sigkill_during_provisioning_posts_nothing_twice_and_resumes_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(load_settings(database_url=url).database_url)
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    sim.latency = 0.05
    port = _free_port()
    first = _start(tmp_path, url, sim, port, "before-kill")
    driver = SlackDriver(sim, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, timeout=10)
    acked: list[int] = []

    def declare(n: int) -> None:
        try:
            answer = driver.slash_command("U0L1", f"declare sev2 Crash test number {n}")
        except OSError:
            return  # the process died under this request: not acknowledged
        found = ACK.search(answer.text)
        if answer.status == 200 and found:
            acked.append(int(found.group(1)))

    senders = [threading.Thread(target=declare, args=(n,)) for n in range(DECLARES)]
    for sender in senders:
        sender.start()
    time.sleep(0.25)  # the first acks are back; channels and cards are on their way
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    for sender in senders:
        sender.join(timeout=15)
    second = None
    try:
        restarted = time.monotonic()
        second = _start(tmp_path, url, sim, port, "after-restart")
        engine = create_engine(load_settings(database_url=url).database_url)

        def all_provisioned() -> bool:
            with engine.connect() as conn:
                rows = conn.execute(select(Incident.provisioned_at)).all()
            return bool(rows) and all(r.provisioned_at is not None for r in rows)

        wait_for(all_provisioned, timeout=30, what="every recorded declare provisioned after the restart")
        took = time.monotonic() - restarted
        assert took < 10, f"interrupted declares finished {took:.1f} s after the restart (leases are 15 s: not waited out)"
        wait_for(lambda: sum("is open in" in str(c.args.get("text")) for c in sim.calls if c.method == "response_url") >= len(acked),
                 timeout=15, what="every declarer told")
        time.sleep(1.0)  # anything a duplicate would still send
        with engine.connect() as conn:
            incidents = conn.execute(select(Incident.id, Incident.channel_id, Incident.card_ts)).all()
            attempts = {row.incident_id: row.attempts for row in conn.execute(
                select(OutboxItem.incident_id, OutboxItem.attempts).where(OutboxItem.kind == "respond"))}
        engine.dispose()
        assert set(acked) <= {i.id for i in incidents}, "every acknowledged declare is recorded"
        ws = sim.workspace
        for incident in incidents:
            cards = [m for m in ws.messages(str(incident.channel_id)) if m.blocks and m.blocks[0].get("type") == "header"]
            assert len(cards) == 1, f"INC-{incident.id}: {len(cards)} cards"
            announced = [m for m in ws.messages("C0STAKE") if f"INC-{incident.id} " in m.text]
            assert len(announced) == 1, f"INC-{incident.id}: {len(announced)} announcements"
            replies = [c for c in sim.calls if c.method == "response_url" and f"INC-{incident.id} is open in" in str(c.args.get("text"))]
            if incident.id in acked:
                assert replies, f"INC-{incident.id}: the declarer was never told"
            # A response_url post can't be looked up: only a kill between Slack taking it and sevbot recording it
            # (the delivery attempt the restart took back) can repeat it.
            assert len(replies) <= attempts.get(incident.id, 1), f"INC-{incident.id}: {len(replies)} replies"
        created = [c for c in sim.calls if c.method == "conversations.create" and c.response.get("ok")]
        assert len(created) == len(incidents), "one channel per incident"
    finally:
        if second is not None:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        sim.stop()


PAGING = """
[escalation_policies.default]
[[escalation_policies.default.tiers]]
targets = ["U0L1", "U0L2"]
"""


def test_sigkill_in_the_middle_of_a_page_sends_no_dm_twice(tmp_path: Path) -> None:
    """Slack took both page DMs; the process dies while the second one's answer is on its way (before the page is
    marked done). The restart takes its page back at once, looks in each DM, adopts both, and tells the channel once."""
    url = f"sqlite:///{tmp_path / 'page.db'}"
    upgrade(load_settings(database_url=url).database_url)
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    sim.inject("chat.postMessage", answer_delay=8.0,
               when=lambda args: args.get("channel") == "U0L2" and "paged" in str(args.get("text")))
    port = _free_port()
    first = _start(tmp_path, url, sim, port, "before-kill", PAGING)
    second = None
    try:
        driver = SlackDriver(sim, f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, timeout=10)
        assert ACK.search(driver.slash_command("U0L1", "declare sev1 Checkout failing").text)
        held = sim.wait_for_call(lambda c: c.method == "chat.postMessage" and c.args.get("channel") == "U0L2", timeout=20)
        assert held is not None and held.ok, "the second page DM landed; its answer is held"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second = _start(tmp_path, url, sim, port, "after-restart", PAGING)
        engine = create_engine(load_settings(database_url=url).database_url)

        def delivered() -> bool:
            with engine.connect() as conn:
                return all(row.done_at is not None for row in conn.execute(select(OutboxItem.done_at)))
        wait_for(delivered, timeout=30, what="the page delivered after the restart")
        with engine.connect() as conn:
            channel = str(conn.execute(select(Incident.channel_id)).scalar_one())
            attempts = conn.execute(select(OutboxItem.attempts).where(OutboxItem.kind == "page_dm")).scalar_one()
        engine.dispose()
        time.sleep(0.5)  # anything a duplicate would still send
        ws = sim.workspace
        for user in ("U0L1", "U0L2"):
            dm = ws.dm_channel(user)
            paged = [m for m in ws.messages(dm.id) if "You are paged" in m.text] if dm else []
            assert len(paged) == 1, f"{user}: {len(paged)} page DMs"
        assert attempts == 2, "the restart performed the page again (and found its DMs)"
        lines = [m.text for m in ws.messages(channel) if m.text.startswith(":pager: Paged")]
        assert len(lines) == 1 and "<@U0L1>, <@U0L2>" in lines[0], lines
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
        if second is not None:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        sim.stop()
