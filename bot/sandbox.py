"""`sevbot sandbox`: the real bot against the local Slack simulator, for trying sevbot with no Slack workspace.

The bot is the production bot, reached only through signed HTTP requests: the simulator signs slash commands
forwarded to it (`sevbot say`) and everything done on the web page (commands, clicks, modals) exactly as Slack
does. The only things handed to the bot are the ones production hands it too: settings, the policy, and a clock;
the sandbox's clock can be fast-forwarded, after which the bot's own scheduler runs its jobs at once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.base import BaseScheduler

from bot import logs
from bot.alerts.endpoint import source_tokens
from bot.env_secrets import MissingSecret
from bot.oncall.feed import calendar_secrets
from bot.command_line import CliError, load_settings_and_config, prepare_sqlite_dir
from bot.config import (DEFAULT_ALERT_SEVERITIES, AlertRoute, Alerts, AlertSource, EscalationPolicy, IncidentConfig, Layer,
                        Restriction, Schedule, Tier)
from bot.db.migrate import upgrade
from bot.runtime import Runtime, StartupError
from bot.settings import Settings, load_settings
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace
from bot.slack_sim.clock import OffsetClock
from bot.slack_sim.web import WebConsole, WebServer

SANDBOX_TOKEN = "xoxb-sandbox-token"
DEFAULT_WEB_PORT = 8080
DEFAULT_SIM_PORT = 8089
# The sandbox's monitoring tool: an Alertmanager posting to `POST /alerts/sandbox`, its messages in #alerts.
ALERT_SOURCE = "sandbox"
ALERT_CHANNEL = "C0ALERTS"
SAMPLE_ALERT = "CheckoutErrors"
SAMPLE_SUMMARY = "Checkout 5xx error rate above 5% for 5 minutes"
ALERT_SEVERITIES = tuple(DEFAULT_ALERT_SEVERITIES)  # the `severity` label values the default route knows
ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:]{0,99}$")  # as Prometheus names its alerting rules
NO_SANDBOX = "no sandbox on port {port}: start one with `make run` (no Slack credentials)"


SANDBOX_SCHEDULE = "checkout"
SANDBOX_ZONE = "Europe/Berlin"
# People's own time zones (Slack profiles), so `/incident oncall` shows each one their local time.
SANDBOX_USER_ZONES = {"U0L1": "America/New_York", "U0L2": "Europe/Berlin", "U0IC": "Europe/London", "U0EXEC": "America/Los_Angeles"}


def sandbox_schedule(now: datetime) -> Schedule:
    """Lee and Sam alternating weekly, handing over 15 to 30 minutes after the sandbox starts (so a newcomer can
    fast-forward through a hand-off and read the DM), with Ines on a business-hours layer (weekdays 09:00-17:00
    Berlin) above them."""
    zone = ZoneInfo(SANDBOX_ZONE)
    local = now.astimezone(zone)
    handoff = (local + timedelta(minutes=15 + (15 - local.minute % 15) % 15)).replace(second=0, microsecond=0)
    primary = Layer(name="primary", users=("U0L1", "U0L2"), rotation="weekly", handoff=handoff.strftime("%H:%M"),
                    start=handoff.date() - timedelta(days=7))  # Lee's week ends at the hand-off, Sam's begins
    business = Layer(name="business-hours", users=("U0IC",), rotation="weekly", handoff="09:00", start=handoff.date() - timedelta(days=7),
                     restrictions=(Restriction(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00"),))
    return Schedule(time_zone=SANDBOX_ZONE, layers=(primary, business), calendar_secret=secrets.token_urlsafe(24))


def sandbox_config(alert_token: str | None = None, now: datetime | None = None) -> IncidentConfig:
    """Defaults wired to the seeded workspace: #incidents for stakeholders, the on-call group for SEV0/1, and one
    alert source (`sandbox`, an Alertmanager) whose alerts post in #alerts and page the seeded ladder.

    The source's token is fresh per run unless given: only this run's page and `sevbot alert` know it."""
    base = IncidentConfig()
    severities = dict(base.severities)
    for key, responders in (("sev0", ("S0ONCALL", "U0IC")), ("sev1", ("S0ONCALL",))):
        severities[key] = severities[key].model_copy(update={"responders": responders})
    # The seeded ladder: the L1 on-call group, then Sam (L2), then Ines; SEV0 also pages Ines at once.
    ladder = EscalationPolicy(tiers=(Tier(targets=("S0ONCALL",)), Tier(targets=("U0L2",)), Tier(targets=("U0IC",))),
                              repeat=2, escalation_contact=("U0IC",))
    alerts = Alerts(channel=ALERT_CHANNEL,
                    sources={ALERT_SOURCE: AlertSource(kind="alertmanager", token=alert_token or secrets.token_urlsafe(24))},
                    default=AlertRoute(name="default", action="page", policy="default"))
    return IncidentConfig(stakeholder_channel="C0STAKE", severities=severities, escalation_policies={"default": ladder},
                          alerts=alerts, schedules={SANDBOX_SCHEDULE: sandbox_schedule(now or datetime.now(timezone.utc))})


@dataclass
class Sandbox:
    """The production Runtime, the simulator, one shared OffsetClock, and the web page, started together."""

    sim: SlackSimulator
    runtime: Runtime
    clock: OffsetClock
    web: WebServer | None
    web_note: str = ""
    # Where the sandbox's own Alertmanager posts (None when the policy has no `sandbox` source); never in a repr.
    alerts: "AlertTarget | None" = field(default=None, repr=False)

    @classmethod
    def start(cls, settings: Settings, config: IncidentConfig, *, sim_port: int = DEFAULT_SIM_PORT, web_port: int | None = DEFAULT_WEB_PORT,
              web_port_fallback: bool = False, sweep_seconds: float | None = None, signing_secret: str | None = None,
              state_file: Path | None = None) -> "Sandbox":
        """Start everything; `settings` must already point at a migrated database. Raises StartupError.

        `web_port=None` runs without the page; `web_port_fallback` takes a free port when that one is busy.
        `state_file` is where the sample alert's firing is remembered, shared with `sevbot alert` (else in memory).
        """
        clock = OffsetClock()
        # Fresh per run: only the simulator can sign for this bot.
        signing_secret = signing_secret or secrets.token_hex(16)
        workspace = Workspace(clock=clock.time).seed_default()
        for user, zone in SANDBOX_USER_ZONES.items():
            workspace.users[user].tz = zone
        try:
            sim = SlackSimulator(workspace, bot_token=SANDBOX_TOKEN, port=sim_port).start()
        except OSError as exc:
            raise StartupError(f"--sim-port {sim_port}: cannot run the Slack simulator there ({exc.strerror or exc})") from None
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
        source = config.alerts.sources.get(ALERT_SOURCE)
        if source is not None and source.kind == "alertmanager":
            sandbox.alerts = AlertTarget(runtime.url, source_tokens(config)[ALERT_SOURCE], FiringAlerts(state_file))
        if web_port is not None:
            console = WebConsole(sim, driver, clock=clock, fast_forward=sandbox.fast_forward,
                                 sample_alert=sandbox.sample_alert if sandbox.alerts else None)
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

    def sample_alert(self, action: str) -> dict[str, Any]:
        """The page's buttons: fire or resolve the sample alert, as the sandbox's Alertmanager would."""
        if self.alerts is None:
            return {"ok": False, "error": f"this sandbox's policy has no `{ALERT_SOURCE}` alert source"}
        try:
            sent = send_alert(self.alerts, action, SAMPLE_ALERT, unreachable="the bot is not reachable")
        except CliError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "line": sent.line, "name": SAMPLE_ALERT, "group": sent.group, "outcome": sent.outcome,
                "channel": self.runtime.deps.config.alerts.channel}

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
    alert_secrets = [source.token or os.environ.get(source.token_env or "", "") for source in config.alerts.sources.values()]
    try:
        calendar = list(calendar_secrets(config).values())
    except MissingSecret:
        calendar = []  # the start says which variable is missing
    logs.configure(args.log_level, [SANDBOX_TOKEN, signing_secret, *alert_secrets, *calendar], settings.sevbot_log_format)
    prepare_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)
    requested = getattr(args, "web_port", None)  # `--web-port`; unset means 8080, or a free port when 8080 is busy
    state_file = state_path(args.sim_port)
    try:
        sandbox = Sandbox.start(settings, config, sim_port=args.sim_port,
                                web_port=DEFAULT_WEB_PORT if requested is None else requested,
                                web_port_fallback=requested is None, signing_secret=signing_secret, state_file=state_file)
    except StartupError as exc:
        raise CliError(str(exc)) from None
    try:
        write_state(state_file, sandbox)
    except (OSError, CliError) as exc:
        sandbox.stop()
        raise CliError(f"cannot write the sandbox's state file: {exc}") from None
    web_url = sandbox.web.url + sandbox.web_note if sandbox.web else None
    print(_banner(sandbox.runtime.url, sandbox.sim.base_url, args.sim_port, web_url, alerts=sandbox.alerts is not None), flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        _echo_messages(sandbox.sim, stop)
    except KeyboardInterrupt:
        pass
    finally:
        remove_state(state_file, sandbox)
        sandbox.stop()
    return 0


def _banner(bot_url: str, sim_url: str, sim_port: int, web_url: str | None = None, *, alerts: bool = False) -> str:
    port_flag = "" if sim_port == DEFAULT_SIM_PORT else f" --sim-port {sim_port}"
    page = (f"\nOpen the sandbox workspace in a browser: {web_url}\n"
            "  (switch between seeded users, type /incident commands, press buttons, fast-forward the clock)\n") if web_url else ""
    fire = (f"\nFire a sample alert into #alerts (it pages the on-call ladder), then resolve it:\n"
            f"  .venv/bin/sevbot alert fire{port_flag}\n"
            f"  .venv/bin/sevbot alert resolve{port_flag}\n") if alerts else ""
    return (
        "\nsevbot sandbox: the real bot and a local Slack simulator (no Slack workspace needed)\n"
        f"  bot        {bot_url}  (POST /slack/events, POST /alerts/<source>, GET /healthz)\n"
        f"  simulator  {sim_url}api/  (seeded users: U0L1 Lee L1 on-call, U0L2 Sam L2, U0IC Ines IC, U0EXEC Erin exec)\n"
        f"{page}"
        "\nIn another terminal, send it a command as a seeded user:\n"
        f"  .venv/bin/sevbot say{port_flag} --as U0L1 \"/incident declare sev1 Checkout is failing for all users\"\n"
        f"  .venv/bin/sevbot say{port_flag} \"/incident list\"\n"
        f"{fire}"
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



# ---- the sandbox's Alertmanager: `sevbot alert fire|resolve` and the page's buttons --------------------------------
# A running sandbox writes how to reach it (the bot's URL, the alert source's token) to a file private to this user,
# one per simulator port: `sevbot alert --sim-port N` finds the sandbox the way `sevbot say --sim-port N` does.


def state_dir() -> Path:
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return Path(runtime_dir) / "sevbot"
    return Path(tempfile.gettempdir()) / f"sevbot-{getattr(os, 'getuid', lambda: 'user')()}"


def state_path(sim_port: int) -> Path:
    return state_dir() / f"sandbox-{sim_port}.json"


def write_state(path: Path, sandbox: Sandbox) -> None:
    """Only this user can read it (it holds the alert token); it goes when the sandbox stops."""
    _private_dir(path.parent)
    state = {"pid": os.getpid(), "bot_url": sandbox.runtime.url, "web_url": sandbox.web.url if sandbox.web else None,
             "alert_source": ALERT_SOURCE if sandbox.alerts else None,
             "alert_token": sandbox.alerts.token if sandbox.alerts else None, "firing": {}}
    _write_private(path, state)


def remove_state(path: Path, sandbox: Sandbox) -> None:
    """Remove the state file if it is still this sandbox's (another one may have taken the port since)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def read_state(sim_port: int) -> dict[str, Any]:
    try:
        state = json.loads(state_path(sim_port).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CliError(NO_SANDBOX.format(port=sim_port)) from None
    if not isinstance(state, dict) or not isinstance(state.get("bot_url"), str):
        raise CliError(NO_SANDBOX.format(port=sim_port))
    return state


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid"):
        info = path.stat()
        if info.st_uid != os.getuid():
            raise CliError(f"{path} belongs to another user; set XDG_RUNTIME_DIR to a folder of your own")
        if info.st_mode & 0o077:
            path.chmod(0o700)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace the file whole (a reader never sees half of it), readable by this user only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.replace(temporary, path)


class FiringAlerts:
    """What each alert fired from the sandbox was sent with, by name, while it fires: a repeat `fire` sends the same
    firing again, and `resolve` ends that firing (same startsAt and labels), as Alertmanager does. Kept in the
    sandbox's state file, so the page and `sevbot alert` share it; in memory when there is none (tests)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._memory: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> dict[str, str] | None:
        with self._lock:
            found = self._load().get(name)
        return found if isinstance(found, dict) else None

    def set(self, name: str, firing: dict[str, str] | None) -> None:
        with self._lock:
            if self.path is None:
                state = {"firing": self._memory}
            else:
                try:
                    state = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return  # the sandbox stopped meanwhile: nothing left to remember for
                if not isinstance(state.get("firing"), dict):
                    state["firing"] = {}
            if firing is None:
                state["firing"].pop(name, None)
            else:
                state["firing"][name] = firing
            if self.path is not None:
                _write_private(self.path, state)

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return self._memory
        try:
            firing = json.loads(self.path.read_text(encoding="utf-8")).get("firing")
        except (OSError, ValueError, AttributeError):
            return {}
        return firing if isinstance(firing, dict) else {}


@dataclass
class AlertTarget:
    bot_url: str
    token: str = field(repr=False)
    firing: FiringAlerts = field(default_factory=FiringAlerts, repr=False)
    source: str = ALERT_SOURCE


@dataclass(frozen=True)
class SentAlert:
    line: str
    group: int | None
    outcome: str


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alertmanager_body(status: str, name: str, *, severity: str, summary: str, starts_at: str,
                      ends_at: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for one alert of a group of its own: the group key and fingerprint
    depend on the name alone, so a resolve pairs with the fire it ends."""
    labels = {"alertname": name, "severity": severity, "service": "checkout", "env": "sandbox",
              "job": "checkout", "instance": "checkout-1:9090"}
    annotations = {"summary": summary,
                   "description": "A sample alert from the sevbot sandbox. Acknowledge the page in your DM with sevbot, "
                                  "or fast-forward the clock 5 minutes to watch it climb the ladder."}
    alert = {"status": status, "labels": labels, "annotations": annotations, "startsAt": starts_at, "endsAt": ends_at,
             "generatorURL": "http://prometheus:9090/graph?g0.expr=job%3A5xx_ratio%3Arate5m%7Bjob%3D%22checkout%22%7D+%3E+0.05",
             "fingerprint": hashlib.sha256(f"{ALERT_SOURCE}\0{name}".encode()).hexdigest()[:16]}
    return {"version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0, "status": status,
            "receiver": "sevbot", "groupLabels": {"alertname": name}, "commonLabels": labels,
            "commonAnnotations": annotations, "externalURL": "http://alertmanager:9093", "alerts": [alert]}


def send_alert(target: AlertTarget, action: str, name: str = SAMPLE_ALERT, *, severity: str | None = None,
               summary: str | None = None, unreachable: str = "the bot is not reachable") -> SentAlert:
    """Fire or resolve `name` at the sandbox's `POST /alerts/sandbox`; raises CliError with one line when it fails."""
    if not ALERT_NAME.match(name):
        raise CliError(f"--name {name[:40]!r}: an alert name is letters, digits, _ and :, starting with a letter")
    if severity is not None and severity not in ALERT_SEVERITIES:
        raise CliError(f"--severity {severity[:20]!r}: one of {', '.join(ALERT_SEVERITIES)}")
    now = _rfc3339(datetime.now(timezone.utc))
    before = target.firing.get(name)
    if action == "fire":
        # Already firing: Alertmanager re-sends the same firing (its startsAt and labels) until it resolves.
        firing = before or {"startsAt": now, "severity": severity or "critical", "summary": summary or SAMPLE_SUMMARY}
        body = alertmanager_body("firing", name, severity=firing["severity"], summary=firing["summary"],
                                 starts_at=firing["startsAt"])
    elif action == "resolve":
        firing = before or {"startsAt": now, "severity": "critical", "summary": SAMPLE_SUMMARY}
        body = alertmanager_body("resolved", name, severity=firing["severity"], summary=firing["summary"],
                                 starts_at=firing["startsAt"], ends_at=now)
    else:
        raise CliError(f"{action!r}: fire or resolve")
    answer = _post_alert(f"{target.bot_url}/alerts/{target.source}", target.token, body, unreachable)
    group, outcome = answer.get("group"), str(answer.get("outcome") or "?")
    target.firing.set(name, firing if action == "fire" else None)
    if outcome == "unknown":
        raise CliError(f"resolve {name}: nothing by that name is firing; nothing changed")
    verb = "fired" if action == "fire" else "resolved"
    line = f"{verb} {name}: " + (f"alert group {group} ({outcome})" if group is not None else outcome)
    if action == "fire" and before is not None and outcome == "unchanged":
        line += "; it was already firing (resolve it first to fire it anew)"
    return SentAlert(line, group if isinstance(group, int) else None, outcome)


def _post_alert(url: str, token: str, body: dict[str, Any], unreachable: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    # No proxy from the environment: the token goes to the local bot and nowhere else.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=15) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}").get("error") or exc.reason
        except (ValueError, AttributeError):
            detail = exc.reason
        raise CliError(f"the sandbox refused the alert: HTTP {exc.code}: {detail}") from None
    except (OSError, ValueError):
        raise CliError(unreachable) from None
    return answer if isinstance(answer, dict) else {}


def alert(args: argparse.Namespace) -> int:
    """`sevbot alert fire|resolve`: the sandbox's Alertmanager, by hand."""
    state = read_state(args.sim_port)
    if state.get("alert_source") is None or not state.get("alert_token"):
        raise CliError(f"the sandbox on port {args.sim_port} has no `{ALERT_SOURCE}` alert source "
                       "(it runs the policy in SEVBOT_CONFIG)")
    target = AlertTarget(state["bot_url"], str(state["alert_token"]), FiringAlerts(state_path(args.sim_port)),
                         str(state["alert_source"]))
    sent = send_alert(target, args.alert_command, args.name, severity=getattr(args, "severity", None),
                      summary=getattr(args, "summary", None), unreachable=NO_SANDBOX.format(port=args.sim_port))
    print(sent.line)
    return 0
