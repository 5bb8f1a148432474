"""The `sevbot` command: serve, migrate, sandbox, say, alert, … Bad input (a setting, an option, a database that does not
answer, Slack refusing the token, a file that cannot be written) exits 2 with one line naming it: see `main`."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import date
from typing import NoReturn

from bot import logs
from bot.command_line import (CliError, explain, load_settings_and_config as _load, open_database, prepare_sqlite_dir as _prepare_sqlite_dir,
                              safe_url as _safe_url, write_output)
from bot.config import IncidentConfig
from bot.settings import Settings

log = logging.getLogger("sevbot")


def _secrets(settings: Settings) -> list[str]:
    return [s.get_secret_value() for s in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) if s]


def _alert_tokens(config: IncidentConfig) -> list[str]:
    """The alert sources' tokens, for the log redaction (a missing one is reported by the start itself)."""
    from bot.alerts.endpoint import source_tokens
    from bot.env_secrets import MissingSecret

    try:
        return list(source_tokens(config).values())
    except MissingSecret:
        return []


def _calendar_secrets(config: IncidentConfig) -> list[str]:
    """The schedules' calendar feed secrets (they are in feed URLs), for the log redaction."""
    from bot.env_secrets import MissingSecret
    from bot.oncall.feed import calendar_secrets

    try:
        return list(calendar_secrets(config).values())
    except MissingSecret:
        return []


def cmd_migrate(_args: argparse.Namespace) -> int:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from bot.db.migrate import schema_state, upgrade

    settings, _config = _load()
    _prepare_sqlite_dir(settings.database_url)
    # An older release's migrate (say an old image's one-shot job) on a database a newer release already migrated:
    # nothing to do, where Alembic would fail on a revision it has never seen.
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        warning = schema_state(engine).warning()
    finally:
        engine.dispose()
    if warning:
        print(f"sevbot: nothing to migrate: {warning}")
        return 0
    upgrade(settings.database_url)
    print(f"sevbot: database migrated ({_safe_url(settings.database_url)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.memory import limit_malloc_arenas, settle_after_startup
    from bot.runtime import Runtime, StartupError

    settings, config = _load()
    logs.configure(args.log_level, _secrets(settings) + _alert_tokens(config) + _calendar_secrets(config),
                   settings.sevbot_log_format)
    # Hand the GIL over more often (default 5 ms): a request thread waiting to ack should not queue behind
    # background provisioning for whole 5 ms slices. Throughput cost is small; ack latency drops.
    sys.setswitchinterval(0.001)
    limit_malloc_arenas()
    try:
        runtime = Runtime.create(settings, config)
    except StartupError as exc:
        raise CliError(str(exc)) from None
    settle_after_startup()
    # SIGTERM (systemd, Kubernetes) stops like Ctrl-C: finish the tick and the Slack calls in hand, then exit.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if settings.slack_app_token is not None:
        from bot import socket_mode

        # Socket Mode: Slack reaches us over a websocket we open; /healthz still answers over HTTP.
        try:
            socket_mode.connect(runtime.app, settings.slack_app_token.get_secret_value())
        except Exception as exc:  # slack_sdk raises SlackApiError or a connection error; either way: say so and stop
            runtime.stop()
            detail = getattr(getattr(exc, "response", None), "data", {}) or {}
            reason = detail.get("error") if isinstance(detail, dict) else None
            raise CliError(f"SLACK_APP_TOKEN: Socket Mode could not connect ({reason or type(exc).__name__})") from None
        log.info("Socket Mode connected")
    runtime.serve_forever()
    return 0


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import run_sandbox

    return run_sandbox(args)


def cmd_say(args: argparse.Namespace) -> int:
    from bot.sandbox import say

    return say(args)


def cmd_alert(args: argparse.Namespace) -> int:
    from bot.sandbox import alert

    return alert(args)


def cmd_runbooks_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.runbooks.loader import RUNBOOKS_DIR, load_dir

    services: set[str] | None = None
    default_dir = RUNBOOKS_DIR
    try:
        settings, config = _load()
        services = set(config.services)
        default_dir = settings.sevbot_runbooks or RUNBOOKS_DIR
    except CliError:
        pass  # checking files needs no working settings
    directory = Path(args.dir) if args.dir else default_dir
    runbooks, problems = load_dir(directory, services)
    for problem in problems:
        print(problem)
    if problems:
        print(f"sevbot: {len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"sevbot: {len(runbooks)} runbook(s) OK in {directory}")
    return 0


def cmd_schedules_check(args: argparse.Namespace) -> int:
    """Gaps (times no layer covers) in the next weeks of every schedule, as `file:line: key: gap …` lines."""
    from datetime import datetime, time, timezone
    from pathlib import Path

    from bot.config import ConfigError, load_config
    from bot.oncall.report import gap_problems
    from bot.settings import SettingsError, load_settings

    if args.file:
        path = Path(args.file)
    else:
        try:
            path = load_settings().sevbot_config  # type: ignore[assignment]
        except SettingsError as exc:
            raise CliError(str(exc)) from None
        if path is None:
            raise CliError("SEVBOT_CONFIG: not set; name the policy file: sevbot schedules check <file>")
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    start = (datetime.combine(args.start, time(), tzinfo=timezone.utc) if args.start is not None
             else datetime.now(timezone.utc))
    problems = gap_problems(str(path), path.read_text(encoding="utf-8"), config, start, args.weeks)
    for problem in problems:
        print(problem)
    if problems:
        print(f"sevbot: {len(problems)} gap(s) in the next {args.weeks} week(s) in {path}", file=sys.stderr)
        return 1
    print(f"sevbot: {len(config.schedules)} schedule(s) OK, no gaps in the next {args.weeks} week(s) in {path}")
    return 0


def cmd_oncall_show(args: argparse.Namespace) -> int:
    """A schedule's shifts (overrides from the database included) from now, as a table."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bot.oncall.lookup import final_rota
    from bot.oncall.report import shift_table

    settings, config = _load()
    schedule = config.schedules.get(args.schedule)
    if schedule is None:
        known = ", ".join(config.schedules) or "none are configured"
        raise CliError(f"unknown schedule {args.schedule!r} (schedules: {known})")
    try:
        zone = ZoneInfo(args.tz) if args.tz else schedule.zone
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(f"--tz: unknown time zone {args.tz!r} (an IANA name such as Europe/Berlin)") from None
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    end = start + timedelta(days=args.days)
    db = open_database(settings)
    try:
        with db.unit_of_work() as session:
            shifts = final_rota(session, args.schedule, schedule, start, end)
    finally:
        db.dispose()
    print(f"{args.schedule}: {args.days} day(s) from now, times in {zone.key}")
    for line in shift_table(shifts, start, end, zone):
        print(line)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The postmortem draft from the database alone: no Slack needed."""
    import json

    from bot.domain.incident import parse_human_id
    from bot.render import Renderer
    from bot.core.errors import BadInput
    from bot.resolve.export import build_document, render_markdown
    from bot.similar.search import similar_to_incident

    settings, config = _load()
    number = parse_human_id(args.incident)
    if number is None:
        raise CliError(f"{args.incident!r} is not an incident id like INC-42")
    db = open_database(settings)
    try:
        document = build_document(db, config, number, similar=similar_to_incident)
    except BadInput as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n" if args.format == "json" else render_markdown(Renderer(), document)
    if args.output:
        write_output(args.output, text, "-o")
        print(f"sevbot: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _positive_int(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 520:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 520")
    return int(value)


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def cmd_insights(args: argparse.Namespace) -> int:
    """The insights report from the database alone (no Slack needed), as Markdown or JSON, and the picture."""
    import json
    from datetime import datetime, timezone

    from bot.insights.report import BadPeriod, build, parse_period
    from bot.insights.render import as_json, markdown
    from bot.people.snapshot import known_names
    from bot.scheduler.timing import Timing

    try:
        days = parse_period(args.since)
    except BadPeriod as exc:
        raise CliError(f"--since: {exc}") from None
    if args.format not in ("md", "json"):
        raise CliError(f"--format: use md or json (got {args.format[:20]!r})")
    until = datetime.now(timezone.utc)
    if args.until:
        try:
            until = datetime.fromisoformat(args.until.replace("Z", "+00:00"))
        except ValueError:
            raise CliError(f"--until: use a UTC date or time like 2026-12-01 or 2026-12-01T09:00 (got {args.until[:30]!r})") from None
        until = until.replace(tzinfo=timezone.utc) if until.tzinfo is None else until.astimezone(timezone.utc)
    settings, config = _load()
    db = open_database(settings)
    try:
        report = build(db, config, Timing(config, settings.sevbot_update_interval), until, days)
        with db.unit_of_work() as session:  # owners by their display name, from the snapshot the export keeps
            names = known_names(session, (f.owner for f in report.overdue_followups if f.owner))
    finally:
        db.dispose()
    text = json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n" if args.format == "json" else markdown(report, names)
    if args.png:
        from bot.insights.chart import render_png
        from bot.insights.render import chart_data

        write_output(args.png, render_png(chart_data(report)), "--png")
        print(f"sevbot: wrote {args.png}", file=sys.stderr)
    if args.output:
        write_output(args.output, text, "-o")
        print(f"sevbot: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Wrong usage answers like every other CLI failure: one line on stderr, exit 2 (argparse would print the usage
    block first). Subcommands' parsers are made of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    root = _OneLineParser(prog="sevbot", description="A Slack incident bot.")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (HTTP on SEVBOT_HOST:SEVBOT_PORT; Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(run=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations (Alembic) up to the newest revision")
    migrate.set_defaults(run=cmd_migrate)
    sandbox = sub.add_parser("sandbox", help="run the bot against the local Slack simulator (no Slack workspace needed)")
    sandbox.add_argument("--sim-port", type=int, default=8089, help="port of the local Slack simulator")
    sandbox.add_argument("--web-port", type=int, default=None,
                         help="port of the sandbox web page (default 8080; a free port if 8080 is busy)")
    sandbox.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sandbox.set_defaults(run=cmd_sandbox)
    runbooks = sub.add_parser("runbooks", help="runbook tools")
    runbooks_sub = runbooks.add_subparsers(dest="runbooks_command", required=True)
    check = runbooks_sub.add_parser("check", help="validate runbook files; prints file:line: problem, exit 1 on any")
    check.add_argument("dir", nargs="?", help="directory of runbook YAML files (default: SEVBOT_RUNBOOKS, else runbooks/)")
    check.set_defaults(run=cmd_runbooks_check)
    schedules = sub.add_parser("schedules", help="on-call schedule tools")
    schedules_sub = schedules.add_subparsers(dest="schedules_command", required=True)
    schedules_check = schedules_sub.add_parser(
        "check", help="find gaps (times no layer covers) in the next weeks; prints file:line: problem, exit 1 on any")
    schedules_check.add_argument("file", nargs="?", help="the policy TOML file (default: SEVBOT_CONFIG)")
    schedules_check.add_argument("--weeks", type=_positive_int, default=4, help="how many weeks ahead (default 4)")
    schedules_check.add_argument("--from", dest="start", type=_iso_date, default=None,
                                 help="check from this date (YYYY-MM-DD, 00:00 UTC) instead of now")
    schedules_check.set_defaults(run=cmd_schedules_check)
    oncall = sub.add_parser("oncall", help="who is on call")
    oncall_sub = oncall.add_subparsers(dest="oncall_command", required=True)
    show = oncall_sub.add_parser("show", help="a schedule's shifts from now, overrides included")
    show.add_argument("schedule", help="the schedule's name in the policy file")
    show.add_argument("--days", type=_positive_int, default=14, help="how many days ahead (default 14)")
    show.add_argument("--tz", default=None, help="show times in this IANA zone (default: the schedule's)")
    show.set_defaults(run=cmd_oncall_show)
    export = sub.add_parser("export", help="write an incident's postmortem draft (Markdown) or its full record (JSON)")
    export.add_argument("incident", help="the incident id, e.g. INC-42")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(run=cmd_export)
    insights = sub.add_parser("insights", help="what the incident history says: counts, time to acknowledge and resolve, "
                                                "update cadence, repeats, recurring patterns, postmortem follow-through")
    insights.add_argument("--since", default="30d", help="the period: 7d, 30d, 90d, … up to 366d (default 30d)")
    insights.add_argument("--until", help="the end of the period, UTC (default: now), e.g. 2026-12-01 to see November as it ended")
    insights.add_argument("--format", default="md", help="md (default) or json")
    insights.add_argument("-o", "--output", help="file to write (default: standard output)")
    insights.add_argument("--png", help="also draw the picture (weekday × hour heatmap, weekly time to resolve) to this PNG file")
    insights.set_defaults(run=cmd_insights)
    say = sub.add_parser("say", help="send a slash command to a running sandbox, as a seeded user")
    say.add_argument("text", help='for example: "/incident declare sev1 Checkout is failing"')
    say.add_argument("--as", dest="user", default="U0L1", help="Slack user id (sandbox users: U0L1, U0L2, U0IC, U0EXEC)")
    say.add_argument("--channel", default="C0GENERAL", help="channel id the command is typed in")
    say.add_argument("--sim-port", type=int, default=8089)
    say.set_defaults(run=cmd_say)
    alert = sub.add_parser("alert", help="fire or resolve a sample Alertmanager alert in a running sandbox")
    alert_sub = alert.add_subparsers(dest="alert_command", required=True)
    fire = alert_sub.add_parser("fire", help="fire an alert: a message in #alerts, and a page to the on-call ladder")
    resolve = alert_sub.add_parser("resolve", help="resolve the alert that `sevbot alert fire` fired")
    for command in (fire, resolve):
        command.add_argument("--name", default="CheckoutErrors", help="the alert's name (its alertname label)")
        command.add_argument("--sim-port", type=int, default=8089, help="the sandbox's simulator port")
        command.set_defaults(run=cmd_alert)
    fire.add_argument("--severity", default=None,
                      help="the alert's severity label: critical (default), error, high, warning or info")
    fire.add_argument("--summary", default=None, help="the alert's summary, shown as its title")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. The one place a failure becomes `sevbot: <one line>` and exit 2: a command's own `CliError`, or
    a failure the user can fix wherever it happened (`explain`: a database that does not answer, a file that cannot
    be written). Anything else is a bug, and its traceback shows."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        print(f"sevbot: {message}", file=sys.stderr)
        return 2

