"""Assembling and running the bot: checks, the Bolt app, the HTTP server and the background sweep.

`sevbot serve` and the tests use the same `Runtime`, so the tests exercise exactly what production runs.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from datetime import datetime, timezone
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from sqlalchemy import text
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from bot.app import build_app
from bot.clock import Clock, SystemClock
from bot.config import IncidentConfig
from bot.db.engine import Database
from bot.db.migrate import schema_state
from bot.http import make_wsgi_app
from bot.runbooks.loader import RUNBOOKS_DIR, RunbookError, load_or_raise
from bot.runbooks.registry import RunbookRegistry
from bot.scheduler.tick import Scheduler
from bot.scheduler.timing import Timing
from bot.services import Services
from bot.settings import Settings
from bot.slack.gateway import SlackGateway, build_client

log = logging.getLogger(__name__)

SWEEP_SECONDS = 10
TICK_SECONDS = 0.5  # an empty tick costs ~0.5 ms; twice a second keeps lateness well under a second


class StartupError(Exception):
    """Start-up refused; the message is one line saying what to do."""


def check_database(db: Database) -> None:
    try:
        problem = schema_state(db.engine).problem()
    except Exception as exc:  # unreachable server, bad credentials, unreadable file
        raise StartupError(f"DATABASE_URL: cannot use the database: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if problem:
        raise StartupError(f"DATABASE_URL: {problem}")


def load_runbooks(directory: Path, config: IncidentConfig) -> RunbookRegistry:
    """An invalid runbook stops start-up, naming the file and line: a broken checklist at 3 a.m. is worse."""
    try:
        return RunbookRegistry(load_or_raise(directory, set(config.services)))
    except RunbookError as exc:
        more = f" (and {len(exc.problems) - 1} more: run `sevbot runbooks check`)" if len(exc.problems) > 1 else ""
        raise StartupError(f"runbooks: {exc.problems[0]}{more}") from None


def health_problem(db: Database) -> str | None:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return schema_state(db.engine).problem()
    except Exception as exc:
        return f"database unreachable ({type(exc).__name__})"


@dataclass
class Runtime:
    settings: Settings
    services: Services
    app: App
    server: BaseWSGIServer | MultiSocketServer
    scheduler: BackgroundScheduler
    ticker: Scheduler
    _thread: threading.Thread | None = field(default=None)
    _stopping: bool = field(default=False)

    @classmethod
    def create(cls, settings: Settings, config: IncidentConfig, *, clock: Clock | None = None, sweep_seconds: float = SWEEP_SECONDS,
               runbooks_dir: Path | None = None, tick_seconds: float = TICK_SECONDS) -> "Runtime":
        if settings.slack_bot_token is None:
            raise StartupError("SLACK_BOT_TOKEN: not set (without Slack credentials, `make run` starts the sandbox)")
        if settings.slack_signing_secret is None:
            raise StartupError("SLACK_SIGNING_SECRET: not set; copy it from your Slack app's Basic Information page")
        runbooks = load_runbooks(runbooks_dir or settings.sevbot_runbooks or RUNBOOKS_DIR, config)
        db = Database(settings.database_url)
        check_database(db)
        client = build_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        timing = Timing(config, settings.sevbot_update_interval, settings.sevbot_ack_timeout)
        services = Services.build(db, config, SlackGateway(client), clock or SystemClock(), runbooks=runbooks, timing=timing)
        scheduler_core = Scheduler(services)
        app = build_app(services, client, settings.slack_signing_secret.get_secret_value())
        wsgi = make_wsgi_app(app, lambda: health_problem(db))
        server = create_server(wsgi, host=settings.sevbot_host, port=settings.sevbot_port, threads=16, ident="sevbot")
        scheduler = BackgroundScheduler(timezone="UTC")
        # Finish any declare that Slack or a crash interrupted; also runs once right at start.
        scheduler.add_job(services.background_sweep, "interval", seconds=sweep_seconds, id="provision-sweep",
                          max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
        # The tick: due reminders and escalation steps, twice a second; the work itself lives in the database.
        scheduler.add_job(scheduler_core.tick, "interval", seconds=tick_seconds, id="scheduler-tick",
                          max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
        return cls(settings, services, app, server, scheduler, scheduler_core)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://{self.settings.sevbot_host}:{self.port}"

    def start_background(self) -> "Runtime":
        """Serve on a thread (tests, sandbox); `serve_forever` is the foreground twin."""
        self.scheduler.start()
        self._thread = threading.Thread(target=self._run_server, name="sevbot-http", daemon=True)
        self._thread.start()
        return self

    def _run_server(self) -> None:
        try:
            self.server.run()
        except OSError:
            # close() from another thread can pull a socket out from under waitress's select(); that is the stop.
            if not self._stopping:
                raise

    def serve_forever(self) -> None:
        self.scheduler.start()
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
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.services.shutdown()
        self.services.db.dispose()
