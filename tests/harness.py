"""The real bot, serving HTTP on a free port, wired to the local Slack simulator; plus waiting helpers."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from bot.config import IncidentConfig
from bot.db.migrate import upgrade
from bot.db.models import Incident, TimelineEvent
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-sim-token"
T = TypeVar("T")


def incident_config(**overrides: Any) -> IncidentConfig:
    base = IncidentConfig()
    severities = dict(base.severities)
    severities["sev1"] = severities["sev1"].model_copy(update={"responders": ("S0ONCALL",)})
    severities["sev0"] = severities["sev0"].model_copy(update={"responders": ("S0ONCALL", "U0IC")})
    values: dict[str, Any] = {"stakeholder_channel": "C0STAKE", "severities": severities} | overrides
    return IncidentConfig(**values)


def paging_config(**overrides: Any) -> IncidentConfig:
    """The test workspace with an escalation ladder: on-call group, then Sam (L2), then Ines; walked twice."""
    from bot.config import EscalationPolicy, Tier

    policy = EscalationPolicy(tiers=(Tier(targets=("S0ONCALL",)), Tier(targets=("U0L2",)), Tier(targets=("U0IC",))),
                              repeat=2, escalation_contact=("U0IC",))
    return incident_config(**({"escalation_policies": {"default": policy}} | overrides))


@dataclass
class Bot:
    runtime: Runtime
    sim: SlackSimulator
    slack: SlackDriver

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.runtime.deps.db

    def incidents(self) -> list[Incident]:
        with self.db.unit_of_work() as session:
            return list(session.scalars(select(Incident).order_by(Incident.id)))

    def incident(self, incident_id: int) -> Incident:
        with self.db.unit_of_work() as session:
            return session.get_one(Incident, incident_id)

    def timeline(self, incident_id: int) -> list[TimelineEvent]:
        with self.db.unit_of_work() as session:
            return list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)))

    def make_due(self, kind: str) -> None:
        """Move every live timer of this kind into the past, as if its time had come."""
        from datetime import timedelta

        from bot.db.models import Timer

        with self.db.unit_of_work() as session:
            for timer in session.query(Timer).filter(Timer.kind == kind, Timer.done_at.is_(None)):
                timer.due_at = self.runtime.deps.clock.now() - timedelta(seconds=1)

    def say(self, user: str, text: str, channel: str) -> str:
        """`/incident <text>` as `user` in `channel`: the private answer, whether it came with the ack or (for commands
        that must ask Slack first, like `ic` and `assign`) through the command's response_url just after."""
        answer = self.slack.slash_command(user, text, channel_id=channel)
        assert answer.status == 200, answer.text
        if answer.text.strip():
            body = answer.json()
            assert body["response_type"] == "ephemeral"
            return str(body["text"])
        assert answer.payload is not None
        token = answer.payload["response_url"].rstrip("/").rsplit("/", 1)[-1]
        post = wait_for(lambda: next((p for p in self.sim.workspace.response_posts if p.token == token), None),
                        what=f"the answer to /incident {text[:30]}")
        return str(post.body["text"])

    def settled(self) -> None:
        """Wait until every Slack effect queued so far is delivered (or given up)."""
        from bot.db.models import OutboxItem

        def done() -> bool:
            with self.db.unit_of_work() as session:
                return all(item.done_at is not None for item in session.scalars(select(OutboxItem)))
        wait_for(done, what="Slack effects delivered")

    def wait_provisioned(self, incident_id: int, timeout: float = 10.0) -> Incident:
        return wait_for(lambda: (i := self.incident(incident_id)) and i.provisioned_at is not None and i, timeout, f"INC-{incident_id} provisioned")


def wait_for(probe: Callable[[], T | None | bool], timeout: float = 10.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class FakeClock:
    """A clock the test moves: a 15-minute rule is tested in milliseconds."""

    def __init__(self, at: Any = None) -> None:
        from datetime import datetime, timezone

        self.at = at or datetime.now(timezone.utc)

    def now(self):  # type: ignore[no-untyped-def]
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at += timedelta(**delta)


@contextmanager
def running_bot(database_url: str, config: IncidentConfig | None = None, *, runbooks_dir: Path | None = None,
                clock: Any = None, tick_seconds: float = 3600, **settings_overrides: Any) -> Iterator[Bot]:
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN).start()
    settings = load_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=None,
        slack_api_url=sim.api_url,
        database_url=database_url,
        sevbot_host="127.0.0.1",
        sevbot_port=0,
        sevbot_config=None,
        sevbot_runbooks=None,
        **settings_overrides,
    )
    upgrade(settings.database_url)
    # The sweep is driven explicitly by the tests that need it, so timing never decides a result.
    runtime = Runtime.create(settings, config or incident_config(), sweep_seconds=3600, runbooks_dir=runbooks_dir,
                             clock=clock, tick_seconds=tick_seconds)
    runtime.start_background()
    try:
        yield Bot(runtime, sim, SlackDriver(sim, runtime.url + "/slack/events", SIGNING_SECRET))
    finally:
        runtime.stop()
        sim.stop()
        assert sim.violations == [], f"the bot made Web API calls that break Slack's spec or Block Kit: {sim.violations}"
