"""The composition root: the one module that knows every feature. It checks the settings, builds the use cases'
dependencies, registers each feature's outbox kinds and timer kinds, builds the Bolt app and starts the servers.

Nothing imports it but the entry points that start it (`bot/cli.py`, `bot/sandbox.py`) and the tests.
`sevbot serve` and the tests use the same `Runtime`, so the tests exercise exactly what production runs.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from sqlalchemy import text
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from bot.app import build_app
from bot.card.sync import CardSync
from bot.clock import Clock, SystemClock
from bot.config import IncidentConfig
from bot.core.background import Background
from bot.core.delivery import Delivery
from bot.core.deps import Deps
from bot.core.outbox import Outbox
from bot.db.engine import Database, Queued, unavailable
from bot.db.errors import database_problem
from bot.db.outage import OutageLog
from bot.edge import Gate
from bot.db.migrate import schema_state
from bot.declare.provision import Provisioner
from bot.alerts.endpoint import AlertEndpoint, source_tokens
from bot.alerts.handling import SILENCE_OVER, declare_from_alert, incident_channel_ready, silence_over
from bot.alerts.paging import ALERT_PAGE_STEP, alert_page_step_due
from bot.alerts.sync import AlertSlack
from bot.http import make_wsgi_app, metrics_only
from bot.env_secrets import MissingSecret
from bot.oncall.feed import CalendarFeed, calendar_secrets
from bot.metrics import exposition
from bot.home.refresh import HomeRefresher
from bot.home.view import home_view
from bot.home.viewers import ViewerStore
from bot.people.lookup import NameBook, NameRefresher
from bot.paging.delivery import deliver_page, post_in_incident_channel
from bot.oncall.handoff import ONCALL_HANDOFF, USERGROUP_SYNC, handoff_due, sync_all, sync_usergroup
from bot.oncall.zones import ZoneBook
from bot.paging.ladder import page_step_due, page_start_due
from bot.render import Renderer
from bot.resolve.resolve import archive_due, postmortem_due
from bot.runbooks.loader import RUNBOOKS_DIR, RunbookError, load_or_raise
from bot.runbooks.registry import RunbookRegistry
from bot.runbooks.runs import RunbookMessages
from bot.runbooks.watch import runbook_check_due
from bot.scheduler import timers
from bot.scheduler.tick import Scheduler, TimerHandler
from bot.scheduler.timing import Timing
from bot.settings import Settings
from bot.similar.notice import NOTICE_KIND, SimilarNotices
from bot.slack.gateway import Identity, SlackError, SlackGateway, build_client
from bot.slack.scopes import missing_warning
from bot.updates.cadence import reminder_due
from commands.context import Context

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5  # a declare another replica left behind is picked up within LEASE + this
TICK_SECONDS = 0.5  # an empty tick costs ~0.5 ms; twice a second keeps lateness well under a second
# Connections opened at start: enough for a burst of declares with their provisioning steps in flight. PostgreSQL
# forks a backend per connection, which a declare must not wait for. A SQLite connection opens in microseconds but
# keeps its own parsed schema (~0.4 MiB): with one writer at a time, 200 declares 10 at a time used 5.
WARM_CONNECTIONS = 10
WARM_SQLITE_CONNECTIONS = 4


class StartupError(Exception):
    """Start-up refused; the message is one line saying what to do."""


def check_database(db: Database) -> None:
    try:
        state = schema_state(db.engine)
    except Exception as exc:  # unreachable server, bad credentials, unreadable file
        raise StartupError(f"DATABASE_URL: {database_problem(exc, db.url)}") from None
    if problem := state.problem():
        raise StartupError(f"DATABASE_URL: {problem}")
    if warning := state.warning():  # a rolling upgrade: a newer release migrated first; its schema is additive
        log.warning("DATABASE_URL: %s", warning)


# Slack's answers to auth.test that mean the token itself is wrong, not the network.
_TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                            "not_allowed_token_type"})
# The start-up check's own client logs nothing: slack_sdk's line per retry would bury the one line that says why.
_QUIET = logging.getLogger("sevbot.startup.slack")
_QUIET.setLevel(logging.CRITICAL)


def check_slack(settings: Settings) -> Identity:
    """Ask Slack who we are (auth.test) before anything else does: an unreachable Slack or a refused token stops
    start-up with one line, instead of a traceback from deep inside Bolt's own token check. The answer seeds the
    gateway and Bolt, so neither asks again."""
    assert settings.slack_bot_token is not None
    client = build_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, timeout=settings.slack_timeout,
                          logger=_QUIET)
    try:
        identity = SlackGateway(client).identify()
    except SlackError as exc:
        if exc.code in _TOKEN_REFUSED:
            raise StartupError(f"SLACK_BOT_TOKEN: Slack refused the bot token ({exc.code})") from None
        if exc.code.startswith("unreachable"):
            raise StartupError(f"SLACK_API_URL: cannot reach Slack at {settings.slack_api_url}: {exc.reason or exc.code}") from None
        # Something that is not Slack (a wrong URL) answers with a page, which slack_sdk quotes whole: the status says it.
        answer = f"HTTP {exc.status}" if exc.status not in (None, 200) else " ".join(exc.code.split())[:100]
        raise StartupError(f"SLACK_API_URL: Slack at {settings.slack_api_url} answered auth.test with {answer}") from None
    # An app installed from an older manifest still runs; what it cannot do is said now, not mid-incident.
    if identity.scopes is not None and (warning := missing_warning(identity.scopes)):
        log.warning("SLACK_BOT_TOKEN: %s", warning)
    return identity


def listen(wsgi: Any, host: str, port: int, setting: str, *, threads: int, ident: str) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound to host:port; a busy or forbidden port is one line naming the setting."""
    try:
        return create_server(wsgi, host=host, port=port, threads=threads, ident=ident)
    except OSError as exc:
        raise StartupError(f"{setting}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def load_runbooks(directory: Path, config: IncidentConfig) -> RunbookRegistry:
    """An invalid runbook stops start-up, naming the file and line: a broken checklist at 3 a.m. is worse."""
    try:
        return RunbookRegistry(load_or_raise(directory, set(config.services)))
    except RunbookError as exc:
        more = f" (and {len(exc.problems) - 1} more: run `sevbot runbooks check`)" if len(exc.problems) > 1 else ""
        raise StartupError(f"runbooks: {exc.problems[0]}{more}") from None


# Takes the same write lock a declare needs, changes nothing, and is rolled back.
_WRITE_PROBE = text("UPDATE incidents SET id = id WHERE 1 = 0")


def health_problem(db: Database) -> str | None:
    """None when a declare could be recorded now: the database takes a write on the incidents table within the
    engine's lock and statement timeouts (a locked table counts as not answering), and the schema is at head (or ahead
    of it by a newer release's migrations, during a rolling upgrade)."""
    try:
        problem = schema_state(db.engine).problem()
        if problem is not None:
            return problem
        with db.engine.connect() as conn:
            with conn.begin() as probe:
                conn.execute(_WRITE_PROBE)
                probe.rollback()
        return None
    except Exception as exc:
        if unavailable(exc):
            return f"database not answering ({type(exc).__name__})"
        return f"database unusable ({type(exc).__name__})"


@dataclass
class Core:
    """Everything the root builds below the Bolt app: what features run on, wired together."""

    deps: Deps
    gateway: SlackGateway
    renderer: Renderer
    runbooks: RunbookRegistry
    background: Background
    outbox: Outbox
    delivery: Delivery
    provisioner: Provisioner
    scheduler: Scheduler
    home: HomeRefresher | None = None
    # Takes the names of an incident's people into the snapshot after each change (bot/people/lookup.py).
    names: NameRefresher | None = None
    similar: SimilarNotices | None = None

    def provision(self, incident_id: int, has_outbox: bool = True) -> None:
        """Start the page the declare called for (its DMs go out as it commits), drive Slack for the new incident,
        then deliver what its finish queued (the declarer's "is open in" reply) and whatever waited for its channel
        (e.g. the page line).

        `has_outbox=False` (the declare called for no page, so nothing else is queued) skips the look for waiting
        effects: the tick's delivery pass and the sweep still catch anything queued meanwhile."""
        if has_outbox:
            self.scheduler.run_due(incident_id)
        outcome = self.provisioner.run(incident_id)
        if outcome.done and self.deps.config.alerts.sources:
            incident_channel_ready(self.deps, incident_id)
        if outcome.reply_item is not None:
            self.outbox.deliver(outcome.reply_item)
        # Finish effects (e.g. "Has this happened before?") after the declarer's reply; they yield to other declares
        # in flight, and the last declare of a burst delivers those that waited.
        quiet = not self.provisioner.busy()
        for item in outcome.finish_items:
            self.outbox.deliver(item)
        if quiet and self.similar is not None:
            for item in self.similar.release_waiting():
                self.outbox.deliver(item)
        if has_outbox:
            self.outbox.release_waiting(incident_id)
            self.outbox.drain(incident_id)
        if self.names is not None:  # the declarer and the first roles (the declare itself commits on the hot path)
            self.names.changed((incident_id,))
        if self.home is not None:
            self.home.changed()  # a new incident (and its channel) on everyone's Home tab

    def declare_from_alert(self, group_id: int, actor: str | None = None) -> dict[str, int]:
        """Open (or find) the incident of an alert group and drive its Slack work; a route's `declare` action has
        sevbot itself as the declarer, so its IC is sevbot until somebody takes command."""
        declared = declare_from_alert(self.deps, group_id, actor or self.gateway.bot_user_id())
        self.provision(declared.incident_id, True)
        return {"incident_id": declared.incident_id}

    def background_sweep(self) -> None:
        """The periodic catch-up: unfinished declares (side by side on the background pool: one waiting on a slow
        Slack must not hold up the rest), then the Slack effects a crash or an outage left undone."""
        for incident_id in self.provisioner.pending_here():
            self.background.run_later(self.provision, incident_id, True)
        self.delivery.deliver_backlog()

    def warm_caches(self) -> None:
        """Learn who we are, look up every user group the policy names and compile the templates, at start: no
        request waits for any of them (a permission check reads group members from this cache)."""
        self.gateway.bot_user_id()
        self.renderer.preload()
        self.deps.db.open_connections(WARM_CONNECTIONS if self.deps.db.is_postgres else WARM_SQLITE_CONNECTIONS)
        config = self.deps.config
        permissions = config.permissions
        named = [r for severity in config.severities.values() for r in severity.responders]
        named += [*permissions.hand_over_ic, *permissions.change_severity, *permissions.resolve]
        for group in sorted({token for token in named if token.startswith("S")}):
            try:
                self.gateway.usergroup_members(group)
            except Exception as exc:  # a bad group id must not stop start-up; declare will report it
                log.warning("could not look up user group %s: %s", group, exc)

    def take_back_own_work(self) -> None:
        """What this replica was doing when it died is ours again now, not when its leases lapse."""
        declares, effects = self.provisioner.take_back_own(), self.outbox.take_back_own()
        if declares or effects:
            log.info("taking back unfinished work from before the restart: %d declare(s), %d Slack effect(s)", declares, effects)
        self.provisioner.start_heartbeat()

    def tick(self) -> None:
        """The scheduler tick; timers that fired (a page escalated, a silence over) may change Home tabs. Then the
        Home tabs owed a publish (a change marked on any replica) whose interval is over: one indexed query."""
        fired = self.scheduler.tick().fired
        if self.home is not None:
            if fired:
                self.home.changed()
            self.home.publish_due()

    def shutdown(self) -> None:
        """Let work already handed over finish (it holds leases and would otherwise be swept later)."""
        if self.home is not None:
            self.home.stop()
        self.background.shutdown()
        self.delivery.shutdown()
        self.provisioner.shutdown()


def build_core(db: Database, config: IncidentConfig, gateway: SlackGateway, clock: Clock, timing: Timing,
               runbooks: RunbookRegistry, renderer: Renderer | None = None, owner: str = "sevbot") -> Core:
    """Wire the features: each one's outbox kinds and timer kinds are registered here, and only here."""
    renderer = renderer or Renderer()
    deps = Deps(db=db, clock=clock, config=config, timing=timing, people=gateway)
    background = Background()
    # The gateway refreshes an expired user group in the background and answers from the older list meanwhile.
    gateway.refresh_later = background.run_later
    card_sync = CardSync(db, gateway, renderer, config, runbooks)
    runbook_messages = RunbookMessages(db, gateway, renderer)
    outbox = Outbox(db, gateway, clock, owner)
    outbox.register("sync_card", lambda _gateway, payload: card_sync.sync(int(payload["incident_id"])))
    outbox.register("runbook_sync", lambda _gateway, payload: runbook_messages.sync(int(payload["run_id"])))
    outbox.register("page_dm", lambda gateway, payload: deliver_page(deps, gateway, payload))
    outbox.register("incident_post", lambda gateway, payload: post_in_incident_channel(deps, gateway, payload))
    alert_slack = AlertSlack(db, gateway, clock)
    outbox.register("alert_sync", lambda _gateway, payload: alert_slack.sync(int(payload["group_id"])))
    outbox.register("alert_page_dm", lambda _gateway, payload: alert_slack.deliver_page(payload))
    outbox.register("alert_dm_update", lambda _gateway, payload: alert_slack.update_dms(payload))
    outbox.register(USERGROUP_SYNC, lambda gateway, payload: sync_usergroup(deps, gateway.set_usergroup_members, payload))
    delivery = Delivery(outbox, background)
    home = HomeRefresher(ViewerStore(db), lambda user, notice: home_view(deps, gateway.usergroup_members, user, notice),
                         gateway.publish_home, background.run_later)

    names = NameRefresher(db, NameBook(db, gateway, clock), background.run_later)

    def after_commit(queued: Queued) -> None:
        delivery.after_commit(queued)  # a unit of work that queued Slack effects starts their delivery
        home.changed()  # and whatever it changed may be on somebody's Home tab (rate-limited per person)
        names.changed(queued.incidents)  # and may have brought in people whose names the export will want
    db.after_commit = after_commit
    handlers: dict[str, TimerHandler] = {
        timers.UPDATE_REMINDER: lambda session, timer: reminder_due(deps, session, timer),
        timers.PAGE_START: lambda session, timer: page_start_due(deps, session, timer),
        timers.PAGE_STEP: lambda session, timer: page_step_due(deps, session, timer),
        ALERT_PAGE_STEP: lambda session, timer: alert_page_step_due(deps, session, timer),
        SILENCE_OVER: lambda session, timer: silence_over(deps, session, timer),
        timers.RUNBOOK_CHECK: lambda session, timer: runbook_check_due(deps, session, timer),
        timers.POSTMORTEM_REMINDER: lambda session, timer: postmortem_due(deps, session, timer),
        timers.ARCHIVE_CHANNEL: lambda session, timer: archive_due(deps, session, timer),
        ONCALL_HANDOFF: lambda session, timer: handoff_due(deps, session, timer),
    }
    scheduler = Scheduler(db, clock, handlers, delivery.deliver_backlog, outbox.has_due)
    # "Has this happened before?" yields to declares being provisioned (bot/similar/notice.py).
    similar = SimilarNotices(db, config, clock, busy=lambda incident_id: provisioner.busy(incident_id))
    outbox.register(NOTICE_KIND, similar.deliver)
    provisioner = Provisioner(db, gateway, config, renderer, clock, card_sync, owner=owner, on_finish=(similar.queue,))
    core = Core(deps, gateway, renderer, runbooks, background, outbox, delivery, provisioner, scheduler, home, names,
                similar)
    outbox.register("alert_declare", lambda _gateway, payload: core.declare_from_alert(int(payload["group_id"])))
    return core


@dataclass
class Runtime:
    settings: Settings
    core: Core
    app: App
    server: BaseWSGIServer | MultiSocketServer
    scheduler: BackgroundScheduler
    # GET /metrics on its own port (SEVBOT_METRICS_PORT); None when it is beside the Slack endpoints, or off.
    metrics_server: BaseWSGIServer | MultiSocketServer | None = field(default=None)
    _thread: threading.Thread | None = field(default=None)
    _metrics_thread: threading.Thread | None = field(default=None)
    _stopping: bool = field(default=False)

    @property
    def deps(self) -> Deps:
        return self.core.deps

    @classmethod
    def create(cls, settings: Settings, config: IncidentConfig, *, clock: Clock | None = None, sweep_seconds: float = SWEEP_SECONDS,
               runbooks_dir: Path | None = None, tick_seconds: float = TICK_SECONDS) -> "Runtime":
        if settings.slack_bot_token is None:
            raise StartupError("SLACK_BOT_TOKEN: not set (without Slack credentials, `make run` starts the sandbox)")
        if settings.slack_signing_secret is None:
            raise StartupError("SLACK_SIGNING_SECRET: not set; copy it from your Slack app's Basic Information page")
        runbooks = load_runbooks(runbooks_dir or settings.sevbot_runbooks or RUNBOOKS_DIR, config)
        try:
            alert_tokens = source_tokens(config)
            feed_secrets = calendar_secrets(config)
        except MissingSecret as exc:
            raise StartupError(str(exc)) from None
        db = Database(settings.database_url)
        check_database(db)
        identity = check_slack(settings)
        client = build_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url, timeout=settings.slack_timeout)
        timing = Timing(config, settings.sevbot_update_interval, settings.sevbot_ack_timeout)
        core = build_core(db, config, SlackGateway(client, identity.user_id), clock or SystemClock(), timing, runbooks, owner=settings.replica_id)
        ctx = Context(deps=core.deps, gateway=core.gateway, background=core.background, runbooks=runbooks,
                      renderer=core.renderer, provision=core.provision, home=core.home, zones=ZoneBook(core.gateway))
        app = build_app(ctx, client, settings.slack_signing_secret.get_secret_value(), identity)
        core.warm_caches()
        core.take_back_own_work()
        # Every schedule's hand-off timer, due at its next hand-off (or now, for one missed while we were down).
        sync_all(core.deps)
        gate = Gate(settings.slack_signing_secret.get_secret_value(), db, core.deps.clock)
        # GET /metrics (docs/monitoring.md): beside the Slack endpoints, on its own port, or not at all.
        metrics_app = None if settings.sevbot_metrics == "off" else exposition(db, core.deps.clock, config.severities, config.closed_status)
        own_port = settings.sevbot_metrics_port is not None
        wsgi = make_wsgi_app(app, lambda: health_problem(db), gate, AlertEndpoint(core.deps, alert_tokens),
                             None if own_port else metrics_app, CalendarFeed(core.deps, feed_secrets))
        outages = OutageLog()

        def sweep() -> None:
            core.background_sweep()
            gate.forget_old()
        server = metrics_server = None
        try:
            server = listen(wsgi, settings.sevbot_host, settings.sevbot_port, "SEVBOT_PORT", threads=16, ident="sevbot")
            if metrics_app is not None and settings.sevbot_metrics_port is not None:
                metrics_server = listen(metrics_only(metrics_app), settings.sevbot_host, settings.sevbot_metrics_port,
                                        "SEVBOT_METRICS_PORT", threads=2, ident="sevbot-metrics")
        except StartupError:
            if server is not None:
                server.close()
            core.shutdown()
            db.dispose()
            raise
        scheduler = BackgroundScheduler(timezone="UTC")
        # Finish any declare that Slack or a crash interrupted; also runs once right at start.
        scheduler.add_job(lambda: outages.guard("the sweep", sweep), "interval", seconds=sweep_seconds, id="provision-sweep",
                          max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
        # The tick: due reminders and escalation steps, twice a second; the work itself lives in the database.
        scheduler.add_job(lambda: outages.guard("the tick", core.tick), "interval", seconds=tick_seconds, id="scheduler-tick",
                          max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
        return cls(settings, core, app, server, scheduler, metrics_server)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.settings.sevbot_host}:{self.port}"

    @property
    def metrics_port(self) -> int | None:
        return int(self.metrics_server.effective_port) if self.metrics_server is not None else None  # type: ignore[union-attr]

    def start_background(self) -> "Runtime":
        """Serve on a thread (tests, sandbox); `serve_forever` is the foreground twin."""
        self.scheduler.start()
        self._start_metrics_server()
        self._thread = threading.Thread(target=self._run_server, name="sevbot-http", daemon=True)
        self._thread.start()
        return self

    def _start_metrics_server(self) -> None:
        if self.metrics_server is not None:
            self._metrics_thread = threading.Thread(target=self._run_server, args=(self.metrics_server,), name="sevbot-metrics", daemon=True)
            self._metrics_thread.start()

    def _run_server(self, server: BaseWSGIServer | MultiSocketServer | None = None) -> None:
        try:
            (server or self.server).run()
        except OSError:
            # close() from another thread can pull a socket out from under waitress's select(); that is the stop.
            if not self._stopping:
                raise

    def serve_forever(self) -> None:
        self.scheduler.start()
        self._start_metrics_server()
        if self.metrics_server is not None:
            log.info("sevbot serving GET /metrics on http://%s:%d/metrics", self.settings.sevbot_host, self.metrics_port)
        log.info("sevbot listening on %s (POST /slack/events, GET /healthz)", self.url)
        try:
            self.server.run()
        except KeyboardInterrupt:
            log.info("stopping: finishing work in hand")
        finally:
            self.stop()

    def stop(self) -> None:
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)  # a tick in progress commits before we go
        self.server.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        for thread in (self._thread, self._metrics_thread):
            if thread is not None:
                thread.join(timeout=5)
        self.core.shutdown()
        self.core.deps.db.dispose()
