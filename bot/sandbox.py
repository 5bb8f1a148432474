"""`sevbot sandbox`: the real bot against the local Slack simulator, for trying sevbot with no Slack workspace.

The bot is the production bot, reached only through signed HTTP requests: the simulator signs slash commands
forwarded to it (`sevbot say`) and everything done on the web page (commands, clicks, modals) exactly as Slack
does. The only things handed to the bot are the ones production hands it too: settings, the policy, and a clock;
the sandbox's clock can be fast-forwarded, after which the bot's own scheduler runs its jobs at once.
"""
from __future__ import annotations

import argparse
import json
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.base import BaseScheduler

from bot import logs
from bot.command_line import CliError, load_settings_and_config, prepare_sqlite_dir
from bot.config import EscalationPolicy, IncidentConfig, Tier
from bot.db.migrate import upgrade
from bot.runtime import Runtime, StartupError
from bot.settings import Settings, load_settings
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from bot.slack_sim.clock import OffsetClock
from bot.slack_sim.web import WebConsole, WebServer

SANDBOX_TOKEN = "xoxb-sandbox-token"
DEFAULT_WEB_PORT = 8080


def sandbox_config() -> IncidentConfig:
    """Defaults wired to the seeded workspace: #incidents for stakeholders, the on-call group for SEV0/1."""
    base = IncidentConfig()
    severities = dict(base.severities)
    for key, responders in (("sev0", ("S0ONCALL", "U0IC")), ("sev1", ("S0ONCALL",))):
        severities[key] = severities[key].model_copy(update={"responders": responders})
    # The seeded ladder: the L1 on-call group, then Sam (L2), then Ines; SEV0 also pages Ines at once.
    ladder = EscalationPolicy(tiers=(Tier(targets=("S0ONCALL",)), Tier(targets=("U0L2",)), Tier(targets=("U0IC",))),
                              repeat=2, escalation_contact=("U0IC",))
    return IncidentConfig(stakeholder_channel="C0STAKE", severities=severities, escalation_policies={"default": ladder})


@dataclass
class Sandbox:
    """The production Runtime, the simulator, one shared OffsetClock, and the web page, started together."""

    sim: SlackSimulator
    runtime: Runtime
    clock: OffsetClock
    web: WebServer | None
    web_note: str = ""

    @classmethod
    def start(cls, settings: Settings, config: IncidentConfig, *, sim_port: int = 8089, web_port: int | None = DEFAULT_WEB_PORT,
              web_port_fallback: bool = False, sweep_seconds: float | None = None, signing_secret: str | None = None) -> "Sandbox":
        """Start everything; `settings` must already point at a migrated database. Raises StartupError.

        `web_port=None` runs without the page; `web_port_fallback` takes a free port when that one is busy.
        """
        clock = OffsetClock()
        # Fresh per run: only the simulator can sign for this bot.
        signing_secret = signing_secret or secrets.token_hex(16)
        sim = SlackSimulator(Workspace(clock=clock.time).seed_default(), bot_token=SANDBOX_TOKEN, port=sim_port).start()
        settings = settings.model_copy(update={
            "slack_bot_token": load_settings(slack_bot_token=SANDBOX_TOKEN).slack_bot_token,
            "slack_signing_secret": load_settings(slack_signing_secret=signing_secret).slack_signing_secret,
            "slack_api_url": sim.api_url,
        })
        try:
            extra = {} if sweep_seconds is None else {"sweep_seconds": sweep_seconds}
            runtime = Runtime.create(settings, config, clock=clock, **extra).start_background()
        except StartupError:
            sim.stop()
            raise
        driver = SlackDriver(sim, runtime.url + "/slack/events", signing_secret)
        sim.connect_bot(lambda user, text, channel, command: driver.slash_command(user, text, channel_id=channel, command=command))
        sandbox = cls(sim, runtime, clock, None)
        if web_port is not None:
            console = WebConsole(sim, driver, clock=clock, fast_forward=sandbox.fast_forward)
            try:
                sandbox.web = WebServer(console, port=web_port).start()
            except OSError as exc:
                if not web_port_fallback:
                    sandbox.stop()
                    raise StartupError(f"--web-port {web_port}: cannot serve the sandbox page there ({exc.strerror or exc})") from None
                sandbox.web = WebServer(console, port=0).start()
                sandbox.web_note = f" (port {web_port} was busy)"
        return sandbox

    def fast_forward(self, seconds: float) -> dict[str, Any]:
        """Move the shared clock on, then run every scheduled job now, so work that just fell due happens at once.

        The jobs run through the runtime's own scheduler (same functions, same one-at-a-time rule) rather than
        being called from here; this waits for them, so the page shows their effect on its next poll.
        """
        now = self.clock.advance(seconds)
        ran = run_jobs_now(self.runtime.scheduler)
        return {"now": now.timestamp(), "offset_seconds": self.clock.offset.total_seconds(), "ran": ran}

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.runtime.stop()
        self.sim.stop()


def run_jobs_now(scheduler: BaseScheduler, timeout: float = 15.0) -> list[str]:
    """Make every job due now and wait until each has run once after this call (or the timeout)."""
    pending = {job.id for job in scheduler.get_jobs()}
    done: list[str] = []
    busy: set[str] = set()
    changed = threading.Condition()

    def listener(event: Any) -> None:
        with changed:
            if event.code == EVENT_JOB_MAX_INSTANCES:
                busy.add(event.job_id)  # a run already in progress may have read the old time: run again after it
            elif event.job_id in pending:
                pending.discard(event.job_id)
                done.append(event.job_id)
            changed.notify_all()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    try:
        for job_id in list(pending):
            scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
        deadline = time.monotonic() + timeout
        with changed:
            while pending and time.monotonic() < deadline:
                changed.wait(0.1)
                for job_id in list(busy):
                    busy.discard(job_id)
                    scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc) + timedelta(milliseconds=100))
    finally:
        scheduler.remove_listener(listener)
    return done


def run_sandbox(args: argparse.Namespace) -> int:
    settings, config = load_settings_and_config()
    if settings.sevbot_config is None:
        config = sandbox_config()
    signing_secret = secrets.token_hex(16)
    logs.configure(args.log_level, [SANDBOX_TOKEN, signing_secret])
    prepare_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)
    requested = getattr(args, "web_port", None)  # `--web-port`; unset means 8080, or a free port when 8080 is busy
    try:
        sandbox = Sandbox.start(settings, config, sim_port=args.sim_port,
                                web_port=DEFAULT_WEB_PORT if requested is None else requested,
                                web_port_fallback=requested is None, signing_secret=signing_secret)
    except StartupError as exc:
        raise CliError(str(exc)) from None
    web_url = sandbox.web.url + sandbox.web_note if sandbox.web else None
    print(_banner(sandbox.runtime.url, sandbox.sim.base_url, args.sim_port, web_url), flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        _echo_messages(sandbox.sim, stop)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def _banner(bot_url: str, sim_url: str, sim_port: int, web_url: str | None = None) -> str:
    port_flag = "" if sim_port == 8089 else f" --sim-port {sim_port}"
    page = (f"\nOpen the sandbox workspace in a browser: {web_url}\n"
            "  (switch between seeded users, type /incident commands, press buttons, fast-forward the clock)\n") if web_url else ""
    return (
        "\nsevbot sandbox: the real bot and a local Slack simulator (no Slack workspace needed)\n"
        f"  bot        {bot_url}  (POST /slack/events, GET /healthz)\n"
        f"  simulator  {sim_url}api/  (seeded users: U0L1 Lee L1 on-call, U0L2 Sam L2, U0IC Ines IC, U0EXEC Erin exec)\n"
        f"{page}"
        "\nIn another terminal, send it a command as a seeded user:\n"
        f"  .venv/bin/sevbot say{port_flag} --as U0L1 \"/incident declare sev1 Checkout is failing for all users\"\n"
        f"  .venv/bin/sevbot say{port_flag} \"/incident list\"\n"
        "Messages the bot posts appear below. Ctrl-C stops.\n"
    )


def _echo_messages(sim: SlackSimulator, stop: dict[str, bool]) -> None:
    """Print each message the bot posts, as a one-line view of the workspace."""
    seen: set[tuple[str, str]] = set()
    private_seen = 0
    while not stop["now"]:
        ephemerals = list(sim.workspace.ephemerals)
        for ephemeral in ephemerals[private_seen:]:
            print(f"[only visible to {ephemeral.user}] {_summary(ephemeral.text, ephemeral.blocks)}", flush=True)
        private_seen = len(ephemerals)
        for message in sim.workspace.all_messages():
            key = (message.channel, message.ts)
            if key in seen:
                continue
            seen.add(key)
            channel = sim.workspace.channels.get(message.channel)
            where = f"#{channel.name}" if channel and not channel.is_im else f"DM {message.channel}"
            print(f"[{where}] {_summary(message.text, message.blocks)}", flush=True)
        time.sleep(0.3)


def _summary(text: str | None, blocks: list[dict[str, Any]] | None) -> str:
    header = next((b["text"]["text"] for b in blocks or [] if b.get("type") == "header"), None)
    line = header or text or ""
    return line if len(line) <= 160 else line[:159] + "…"


def say(args: argparse.Namespace) -> int:
    body = json.dumps({"user_id": args.user, "text": args.text, "channel_id": args.channel}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{args.sim_port}/sim/slash", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
        raise CliError(f"the sandbox refused: {detail}") from None
    except OSError:
        raise CliError(f"no sandbox on port {args.sim_port}: start one with `make run` (no Slack credentials)") from None
    answer = result.get("response")
    text = answer.get("text") if isinstance(answer, dict) else answer
    if result.get("status") != 200:
        raise CliError(f"the bot answered HTTP {result.get('status')}: {text}")
    print(text or "(acknowledged; the bot answered with no message)")
    return 0

