"""A real Alertmanager delivering to a real `sevbot serve`, end to end, against the Slack simulator.

amtool fires an alert; Alertmanager's webhook (bearer token, send_resolved) POSTs it to `/alerts/am`. sevbot posts
one living message in C0ALERTS and pages the on-call group; nobody answers, so the ladder climbs to tier 2 (U0L2)
after the (shortened) acknowledgement timeout; U0L2 acknowledges from the page DM; then amtool resolves the alert at
the source and the same message turns green. One message, one page, and no Web API call Slack would refuse.

Needs Debian's `prometheus-alertmanager` package (the `prometheus-alertmanager` and `amtool` binaries); without it
the test is skipped, saying how to install it. `.ci/run` installs it on CI.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from bench.serve_harness import BotProcess, free_port
from bot.db.models import AlertGroup, Page
from bot.ids import ActionId
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from bot.slack_sim.state import Message
from tests.harness import BOT_TOKEN, SIGNING_SECRET

INSTALL_HINT = "sudo apt-get install prometheus-alertmanager"
ALERT_CHANNEL = "C0ALERTS"
ON_CALL = "S0ONCALL"
TIER_2 = "U0L2"
ACK_TIMEOUT_S = 3
# amtool's labels for the alert; the same labels resolve it (same fingerprint).
LABELS = ("alertname=CheckoutErrors", "severity=critical", "service=checkout")
SUMMARY = "Checkout 5xx above 5%"
PAGED = "You are paged for an alert"
T = TypeVar("T")

POLICY = f"""\
stakeholder_channel = "C0STAKE"

[escalation_policies.default]
repeat = 1

[[escalation_policies.default.tiers]]
targets = ["{ON_CALL}"]

[[escalation_policies.default.tiers]]
targets = ["{TIER_2}"]

[alerts]
channel = "{ALERT_CHANNEL}"

[alerts.sources.am]
kind = "alertmanager"
token_env = "SEVBOT_TEST_AM_TOKEN"
"""


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    if found is None:
        pytest.skip(f"!!! {name} is not installed: the Alertmanager end-to-end test needs it ({INSTALL_HINT}) !!!")
    return found


@pytest.fixture
def binaries() -> tuple[str, str]:
    return _binary("prometheus-alertmanager"), _binary("amtool")


def _alertmanager_config(bot_port: int, token: str) -> str:
    # JSON is YAML: no YAML library needed, and the token is quoted whatever it holds.
    return json.dumps({
        "route": {"receiver": "sevbot", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "sevbot", "webhook_configs": [{
            "url": f"http://127.0.0.1:{bot_port}/alerts/am",
            "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
        }]}],
    }, indent=2)


class Alertmanager:
    """`prometheus-alertmanager` as a child process on a free port, clustering off, its state in a temp dir."""

    def __init__(self, binary: str, amtool: str, tmp: Path, config: str) -> None:
        self.binary, self.amtool, self.tmp = binary, amtool, tmp
        self.port = free_port()
        self.config_path = tmp / "am.yml"
        self.config_path.write_text(config, encoding="utf-8")
        (tmp / "am-data").mkdir()
        self.log_path = tmp / "alertmanager.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={self.config_path}", f"--storage.path={self.tmp / 'am-data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=debug"],
                cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT, env=self._env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited {self.proc.returncode} during start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:  # noqa: S310 - local URL
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"alertmanager: /-/ready not 200 within {timeout:.0f}s:\n{self.log_tail()}")

    def alert(self, *extra: str) -> None:
        """`amtool alert add` for the test's labels (plus `extra` flags)."""
        done = subprocess.run([self.amtool, "alert", "add", f"--alertmanager.url={self.url}", *LABELS,
                               f"--annotation=summary={SUMMARY}", *extra],
                              cwd=self.tmp, env=self._env(), capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"amtool alert add {' '.join(extra)} exited {done.returncode}: {done.stderr or done.stdout}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _env(self) -> dict[str, str]:
        # HOME in the temp dir: no amtool config of whoever runs the tests is read.
        return {**os.environ, "HOME": str(self.tmp)}


class Stack:
    """The simulator, the bot process and Alertmanager, plus the waits and reads the test makes on them."""

    def __init__(self, sim: SlackSimulator, bot: BotProcess, am: Alertmanager, engine: Engine) -> None:
        self.sim, self.bot, self.am, self.engine = sim, bot, am, engine
        self.slack = SlackDriver(sim, bot.url + "/slack/events", SIGNING_SECRET)

    def wait(self, probe: Callable[[], T | None | bool], what: str, timeout: float = 30.0) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value  # type: ignore[return-value]
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.diagnostics()}")
            time.sleep(0.05)

    def diagnostics(self) -> str:
        return (f"--- sevbot serve log ---\n{self.bot.log_tail(40)}\n--- alertmanager log ---\n{self.am.log_tail(40)}\n"
                f"--- simulator violations ---\n{self.sim.violations}")

    def alert_messages(self) -> list[Message]:
        return [m for m in self.sim.workspace.messages(ALERT_CHANNEL) if not m.thread_ts]

    def page_dms(self, user: str, tier: int | None = None) -> list[Message]:
        channel = self.sim.workspace.dm_channel(user)
        shown = [m for m in (self.sim.workspace.messages(channel.id) if channel else []) if PAGED in _shown(m)]
        return [m for m in shown if tier is None or f"(tier {tier})" in _shown(m)]

    def pages(self) -> list[Page]:
        with Session(self.engine) as session:
            return list(session.scalars(select(Page).order_by(Page.id)))

    def groups(self) -> list[AlertGroup]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AlertGroup).order_by(AlertGroup.id)))


def _shown(message: Message) -> str:
    return message.text + json.dumps(message.blocks)


@pytest.fixture
def stack(binaries: tuple[str, str], tmp_path: Path) -> Iterator[Stack]:
    am_binary, amtool = binaries
    token = "am-" + secrets.token_hex(16)
    url = f"sqlite:///{tmp_path / 'sevbot.db'}"
    policy = tmp_path / "sevbot.toml"
    policy.write_text(POLICY, encoding="utf-8")
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    bot = BotProcess(url, sim.api_url, tmp_path, signing_secret=SIGNING_SECRET, extra_env={
        "SEVBOT_CONFIG": str(policy), "SEVBOT_ACK_TIMEOUT": str(ACK_TIMEOUT_S), "SEVBOT_TEST_AM_TOKEN": token})
    am = Alertmanager(am_binary, amtool, tmp_path, _alertmanager_config(bot.port, token))
    engine = create_engine(url)
    try:
        bot.migrate()
        bot.start()
        am.start()
        yield Stack(sim, bot, am, engine)
    finally:
        am.stop()
        bot.stop()
        sim.stop()
        engine.dispose()


def test_alertmanager_fires_escalates_acknowledges_and_resolves_one_message_one_page(stack: Stack) -> None:
    ws = stack.sim.workspace
    on_call = ws.usergroups[ON_CALL].users
    assert TIER_2 in on_call and len(on_call) >= 2

    stack.am.alert()
    [message] = stack.wait(stack.alert_messages, "the alert's message in C0ALERTS")
    assert SUMMARY in _shown(message) and ":red_circle:" in _shown(message), _shown(message)
    posted_ts = message.ts

    # Tier 1: every member of the on-call group gets one page DM.
    for member in on_call:
        stack.wait(lambda: stack.page_dms(member, tier=1), f"the tier 1 page DM to {member} (a member of {ON_CALL})")
    first_member = next(m for m in on_call if m != TIER_2)

    # Nobody acknowledges: after the timeout the ladder climbs to tier 2 (U0L2 alone).
    [tier2] = stack.wait(lambda: stack.page_dms(TIER_2, tier=2), f"the tier 2 page DM to {TIER_2}",
                         timeout=ACK_TIMEOUT_S + 30)
    dm = ws.dm_channel(TIER_2)
    assert dm is not None
    clicked = stack.slack.click(TIER_2, dm.id, tier2.ts, ActionId.ALERT_ACK)
    assert clicked.status == 200, clicked.text

    def acknowledged() -> Message | None:
        [current] = stack.alert_messages()
        return current if f"Acknowledged by <@{TIER_2}>" in _shown(current) else None

    message = stack.wait(acknowledged, "the alert message to say who acknowledged")
    assert ActionId.ALERT_ACK not in _shown(message), "an acknowledged alert offers no Acknowledge button"
    [page] = stack.pages()
    assert page.state == "acked" and page.acked_by == TIER_2 and page.tier == 1, (page.state, page.acked_by, page.tier)

    def dm_updated() -> bool:
        shown = _shown(ws.find_message(dm.id, tier2.ts))  # type: ignore[arg-type]
        return f"Acknowledged by <@{TIER_2}>" in shown and ActionId.ALERT_ACK not in shown

    stack.wait(dm_updated, "the page DM to lose its button and say who acknowledged")

    # Resolved at the source: Alertmanager sends the resolved notification, the same message turns green.
    ended = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    stack.am.alert(f"--end={ended}")

    def green() -> Message | None:
        [current] = stack.alert_messages()
        return current if ":large_green_circle:" in json.dumps(current.blocks) else None

    message = stack.wait(green, "the alert message to turn green once Alertmanager resolves the alert")
    assert message.ts == posted_ts and ":red_circle:" not in json.dumps(message.blocks), "updated in place"
    [group] = stack.groups()
    assert group.state == "resolved" and group.acked_by == TIER_2
    assert len(stack.alert_messages()) == 1, "one group, one top-level message"
    assert len(stack.pages()) == 1, "one group, one page"
    assert len(stack.page_dms(first_member)) == 1, f"{first_member} was paged once (tier 1 only)"
    assert len(stack.page_dms(TIER_2)) == 2, f"{TIER_2} was paged twice: in the on-call group (tier 1), then tier 2"

    stack.am.stop()
    exited = stack.bot.stop()
    stack.sim.stop()
    # SIGTERM stops `sevbot serve` like Ctrl-C: 0, or 130 when the signal lands outside the serve loop; not killed.
    assert exited in (0, 130), f"sevbot serve exited {exited} after SIGTERM\n{stack.diagnostics()}"
    assert stack.bot.log_counts()["tracebacks"] == 0, stack.diagnostics()
    assert stack.sim.violations == [], f"the bot made Web API calls that break Slack's spec or Block Kit: {stack.sim.violations}"

