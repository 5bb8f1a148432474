#!/usr/bin/env python3
"""Ack benchmark: how long the bot takes to answer Slack's HTTP request, for every `/incident` subcommand, every
button, every modal submit (and the pin events), while every Slack Web API call takes 0.3 s.

Slack shows the user an error when the HTTP answer does not come within 3 s, and the user *feels* anything over
~100 ms: target, every ack under 100 ms. The bot runs in this process (tests.harness.running_bot: the real Runtime
serving HTTP on a free port, wired to the local Slack simulator, SQLite scratch file or --database-url PostgreSQL);
requests are signed as Slack signs them (SlackDriver), and the ack is the wall time of the driver call
(time.perf_counter around it): the whole HTTP round trip, nothing of the follow-up work.

How a run goes
  1. Start-up and set-up at no Slack latency: declare a main incident (sev1, paging ladder), a "lifecycle" incident
     (resolved and reopened over and over) and --repeat "pool" incidents (each gets runbooks started on it), and wait
     until they are provisioned and every Slack effect is delivered.
  2. sim.latency = --latency (0.3 s) for every Web API call from now on.
  3. Every subcommand in commands.registry.REGISTRY (discovered, so a new one shows up here: one the bench does not
     know how to call is printed as NOT MEASURED), then every button, the declare modal's live selects, every modal
     submit and the pin events, each --repeat times. Before each sample the bench puts the incident in a state in
     which the action is valid (untimed: e.g. a page to acknowledge, a resolved incident to reopen, a fresh modal to
     submit) and waits until the bot is quiet (no Slack call in flight, no background work, outbox delivered), so
     each ack is measured on its own. A reply that is a refusal (":x:", ":no_entry:", modal errors) is flagged: the
     sample did not take the path it was meant to.
  4. Latency back to 0, wait for the background work to finish, stop.

People: the simulator's seeded users U0L1 (Lee, L1), U0L2 (Sam, L2), U0IC (Ines), U0EXEC (Erin) do the typing. The
bot caches users.info for 5 minutes and set-up already looks the seeded users up, so a sample that names a person
(`ic`, `assign`, `page`, the role modal) or whose clicker is looked up (Take command) names, by default
(--people fresh), a responder the bot has not seen yet, added to the simulated workspace just before: the case of
someone pulled into an incident. --people seeded names the seeded users instead (the warm-cache case).
The verdict is on the max: every ack under the target.

Run:   .venv/bin/python bench/ack_bench.py [--repeat 5] [--latency 0.3] [--target-ms 100] [--json out.json]
       [--people fresh|seeded] [--database-url postgresql://postgres@127.0.0.1:5432/test] [--only ic,assign,button:]
Exit status: 0 whether or not the target is met (a measurement); 1 if the run itself broke (the bot did not start,
a request was not answered HTTP 200, a state the bench needed never came, an ERROR was logged, a Slack spec violation).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from serve_harness import argument_parser, pct, print_problems, scratch_database  # noqa: E402

MAIN_TITLE = "Checkout payments failing with 5xx after deploy"
POOL_TITLE = "Payments declined at checkout, 5xx errors after deploy"
LIFE_TITLE = "Search results stale for some users"
PEOPLE = ("U0L2", "U0IC", "U0EXEC", "U0L1")
REFUSAL = re.compile(r"^\s*:(x|no_entry):")


class Broken(Exception):
    """The bench could not do what a sample needs (a modal never opened, a button never came): the run broke."""


# ---------------------------------------------------------------------------------------------------------
# results


@dataclass
class Sample:
    ms: float
    status: int
    reply: str
    refused: bool


@dataclass
class Row:
    kind: str
    name: str
    samples: list[Sample] = field(default_factory=list)
    not_measured: str | None = None  # why, when the bench could not call it at all
    error: str | None = None  # the run broke while measuring this row

    def times(self) -> list[float]:
        return [s.ms for s in self.samples]

    def verdict(self, target_ms: float) -> str:
        if self.not_measured is not None:
            return "NOT MEASURED"
        if self.error is not None:
            return "BROKEN"
        if not self.samples:
            return "NO SAMPLES"
        return "PASS" if max(self.times()) < target_ms else "FAIL"


# ---------------------------------------------------------------------------------------------------------
# knowing when the bot is quiet


class Quiet:
    """Counts Slack requests in flight (API, response_url, upload) and background work handed to run_later, so the
    bench can wait until the bot has finished what the last action started before it measures the next ack."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.lock = threading.Lock()
        self.http = 0
        self.work = 0
        self.tracking_work = False
        sim = bot.sim
        for name in ("handle_api", "handle_response_url", "handle_upload"):
            original = getattr(sim, name, None)
            if callable(original):
                setattr(sim, name, self._counting(original))
        # Background work goes through one run_later: Services.run_later, or (after the refactor into bot/core)
        # Runtime.core.background.run_later. Found by looking, so the bench runs on either layout.
        runtime = bot.runtime
        for holder in (getattr(runtime, "services", None), getattr(getattr(runtime, "core", None), "background", None)):
            original_later = getattr(holder, "run_later", None)
            if callable(original_later):
                try:
                    setattr(holder, "run_later", self._tracked_later(original_later))
                    self.tracking_work = True
                except (AttributeError, TypeError):  # frozen or slotted: fall back to the quiet window
                    pass
                break

    def _counting(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.http += 1
            try:
                return handler(*args, **kwargs)
            finally:
                with self.lock:
                    self.http -= 1
        return counted

    def _tracked_later(self, run_later: Callable[..., None]) -> Callable[..., None]:
        def tracked(work: Callable[..., object], *args: object) -> None:
            def wrapped(*a: object) -> object:
                try:
                    return work(*a)
                finally:
                    with self.lock:
                        self.work -= 1
            wrapped.__qualname__ = getattr(work, "__qualname__", repr(work))  # the name _logged reports on failure
            with self.lock:
                self.work += 1
            try:
                run_later(wrapped, *args)
            except BaseException:
                with self.lock:
                    self.work -= 1
                raise
        return tracked

    def _outbox_due(self) -> int:
        from bot.db.models import OutboxItem

        now = datetime.now(timezone.utc) + timedelta(seconds=1)
        with self.bot.db.unit_of_work() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxItem)
                                      .where(OutboxItem.done_at.is_(None), OutboxItem.due_at <= now)) or 0)

    def settle(self, timeout: float = 30.0) -> bool:
        """True once nothing is in flight, queued or due for a quiet window; False after `timeout` seconds."""
        window = 0.1 if self.tracking_work else 0.1 + self.bot.sim.latency
        deadline = time.monotonic() + timeout
        calls = len(self.bot.sim.calls)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            with self.lock:
                busy = self.http > 0 or self.work > 0
            now_calls = len(self.bot.sim.calls)
            if not busy and now_calls == calls:
                busy = self._outbox_due() > 0
            if busy or now_calls != calls:
                calls, quiet_since = now_calls, time.monotonic()
            elif time.monotonic() - quiet_since >= window:
                return True
            time.sleep(0.02)
        return False


class LogCatcher(logging.Handler):
    """Keeps WARNING+ records of the bot (and of anything else) instead of printing them between the rows."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, level: int) -> list[str]:
        out = []
        for r in self.records:
            if r.levelno >= level:
                text = f"{r.levelname} {r.name}: {r.getMessage()}"
                if r.exc_info and r.exc_info[1] is not None:
                    text += f" ({type(r.exc_info[1]).__name__}: {r.exc_info[1]})"
                out.append(text)
        return out


# ---------------------------------------------------------------------------------------------------------
# the bench


@dataclass
class Incident:
    id: int
    channel: str


class AckBench:
    def __init__(self, bot: Any, config: Any, args: Any) -> None:
        from bot.ids import ActionId, CallbackId

        self.bot = bot
        self.config = config  # the IncidentConfig the bot was started with (statuses, pin reaction)
        self.sim = bot.sim
        self.ws = bot.sim.workspace
        self.slack = bot.slack
        self.args = args
        self.repeat: int = args.repeat
        self.quiet = Quiet(bot)
        self.rows: list[Row] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.A = ActionId
        self.C = CallbackId
        self.main: Incident
        self.life: Incident
        self.pool: list[Incident] = []
        self.started_runbooks: dict[int, set[str]] = {}
        self.runbook_names: dict[int, list[str]] = {}
        self.touched_steps: set[tuple[str, str, str]] = set()
        self.pending_views: dict[str, list[str]] = {}  # callback_id -> view ids opened and not yet submitted

    # ---- small helpers -------------------------------------------------------------------------------
    def settle(self) -> None:
        if not self.quiet.settle(self.args.settle_timeout):
            self.warnings.append(f"the bot was still busy after {self.args.settle_timeout:.0f}s (measured anyway)")

    def wait(self, probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise Broken(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.02)

    def incident_row(self, incident_id: int) -> Any:
        return self.bot.incident(incident_id)

    def holder(self, incident_id: int, role: str) -> str | None:
        from bot.db.models import RoleAssignment

        with self.bot.db.unit_of_work() as session:
            return session.scalar(select(RoleAssignment.user_id).where(
                RoleAssignment.incident_id == incident_id, RoleAssignment.role == role, RoleAssignment.ended_at.is_(None)))

    def status(self, incident_id: int) -> str:
        return str(self.incident_row(incident_id).status)

    def closed_status(self) -> str:
        return str(self.config.closed_status)

    def tick(self) -> None:
        """One scheduler tick, as the 0.5 s timer would run it (Runtime.ticker, or Runtime.core.scheduler)."""
        runtime = self.bot.runtime
        ticker = getattr(runtime, "ticker", None) or getattr(getattr(runtime, "core", None), "scheduler", None)
        if ticker is None or not callable(getattr(ticker, "tick", None)):
            raise Broken("cannot find the bot's scheduler tick (Runtime.ticker / Runtime.core.scheduler)")
        ticker.tick()

    def card(self, inc: Incident) -> Any:
        row = self.incident_row(inc.id)
        message = self.ws.find_message(row.channel_id, row.card_ts)
        if message is None:
            raise Broken(f"INC-{inc.id} has no card message")
        return message

    @staticmethod
    def elements(blocks: list[dict[str, Any]]) -> list[tuple[str | None, dict[str, Any]]]:
        found = []
        for block in blocks or []:
            for element in [*(block.get("elements") or []), block.get("accessory") or {}, block.get("element") or {}]:
                if isinstance(element, dict) and element.get("action_id"):
                    found.append((block.get("block_id"), element))
        return found

    def reply_text(self, response: Any) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:300]
        if isinstance(body, dict):
            if body.get("response_action") == "errors":
                return "errors: " + json.dumps(body.get("errors"))[:300]
            return str(body.get("text") or body.get("response_action") or "")[:300]
        return "" if body is None else str(body)[:300]

    def other_person(self, current: str | None, i: int, pool: tuple[str, ...] = PEOPLE) -> str:
        choices = [p for p in pool if p != current]
        return choices[i % len(choices)]

    def person(self, current: str | None, i: int, pool: tuple[str, ...] = PEOPLE) -> str:
        """The person a sample names (or who clicks). --people fresh (the default): someone the bot has not looked up
        yet, added to the simulated workspace just now, as when a responder is pulled in; --people seeded: one of the
        seeded users other than `current`, usually already in the bot's 5-minute users.info cache."""
        if self.args.people == "seeded":
            return self.other_person(current, i, pool)
        from bot.slack_sim.state import User

        with self.ws.lock:
            n = sum(1 for uid in self.ws.users if uid.startswith("U0BENCH")) + 1
            uid = f"U0BENCH{n:03d}"
            self.ws.users[uid] = User(uid, f"responder{n}", f"Responder {n}", title="Responder")
        return uid

    def later_replies(self, response: Any) -> list[str]:
        """What the bot posted to this request's response_url (answers sent after the ack)."""
        url = str((response.payload or {}).get("response_url") or "")
        token = url.rstrip("/").rsplit("/", 1)[-1]
        if not token:
            return []
        return [str((p.body or {}).get("text") or "") for p in list(self.ws.response_posts) if p.token == token]

    def slash_text(self, user: str, text: str, channel: str, *, answered: bool = True) -> str:
        """An untimed slash command for set-up; returns its answer, from the ack or (if the ack was empty and an
        answer is expected: not for a command that opens a modal) from the response_url post that follows it."""
        response = self.slack.slash_command(user, text, channel_id=channel)
        if response.status != 200:
            raise Broken(f"set-up `/incident {text}` answered HTTP {response.status}")
        reply = self.reply_text(response)
        if not reply and answered:
            later = self.wait(lambda: self.later_replies(response), f"the answer to `/incident {text[:40]}`", timeout=10)
            reply = later[0]
        return reply

    # ---- timing ----------------------------------------------------------------------------------------
    def timed(self, row: Row, call: Callable[[], Any], *, opens: str | None = None) -> Any:
        """One sample: the driver call's wall time. Then, once the bot is quiet, the answer: the ack's body and
        whatever came through the request's response_url after it, to flag a refusal; with `opens` (a callback_id),
        a sample after which no such modal opened is flagged too."""
        views_before = self.open_views(opens) if opens else set()
        started = time.perf_counter()
        response = call()
        ms = (time.perf_counter() - started) * 1000.0
        self.settle()
        replies = [r for r in [self.reply_text(response), *self.later_replies(response)] if r]
        refused = any(REFUSAL.match(r) or r.startswith("errors:") for r in replies)
        if opens and not (self.open_views(opens) - views_before):
            replies.append(f"errors: no {opens} modal opened")
            refused = True
        reply = " | ".join(r[:200] for r in replies)
        row.samples.append(Sample(ms, response.status, reply, refused))
        if response.status != 200:
            self.problems.append(f"{row.kind} {row.name!r}: HTTP {response.status} {response.text[:200]!r}")
        return response

    def measure(self, kind: str, name: str, sample: Callable[[Row, int], None]) -> None:
        row = Row(kind, name)
        if not self.selected(row):
            return
        self.rows.append(row)
        print(f"  {kind:<13} {name} …", end="", flush=True)
        for i in range(self.repeat):
            self.settle()
            try:
                sample(row, i)
            except Exception as exc:  # noqa: BLE001 - any failure of a sample is a broken run, reported per row
                row.error = f"sample {i + 1}: {type(exc).__name__}: {exc}"
                self.problems.append(f"{kind} {name!r}: {row.error}")
                if not isinstance(exc, (Broken, AssertionError)):
                    traceback.print_exc()
                break
        print(f" {', '.join(f'{s.ms:.0f}' for s in row.samples)} ms" + (f"  [{row.error}]" if row.error else ""))
        self.settle()

    def not_measured(self, kind: str, name: str, why: str) -> None:
        row = Row(kind, name, not_measured=why)
        if self.selected(row):
            self.rows.append(row)
            print(f"  {kind:<13} {name}: NOT MEASURED ({why})")

    def selected(self, row: Row) -> bool:
        if not self.args.only:
            return True
        key = f"{row.kind}:{row.name}".lower()
        return any(word.strip().lower() in key for word in self.args.only.split(",") if word.strip())

    # ---- views -----------------------------------------------------------------------------------------
    def open_views(self, callback_id: str) -> set[str]:
        with self.ws.lock:
            return {v.id for v in self.ws.views.values() if v.view.get("callback_id") == callback_id and not v.closed}

    def new_view(self, callback_id: str, before: set[str], what: str) -> Any:
        def probe() -> Any:
            with self.ws.lock:
                fresh = [v for v in self.ws.views.values()
                         if v.view.get("callback_id") == callback_id and not v.closed and v.id not in before]
            return fresh[-1] if fresh else None
        return self.wait(probe, f"the {what} modal to open")

    def fill(self, view: Any, values: dict[str, Any] | None = None, *, person: str | None = None,
             words: str = "Bench") -> dict[str, dict[str, Any]]:
        """The whole form filled in as a person would, read from the view itself (so the bench needs no modal's
        field names): text inputs get `words` and their label, a select keeps its initial option (else the first),
        radio buttons the last option, checkboxes all ticked, a user picker `person`. `values` ({action_id: value})
        overrides. Returns {block_id: {action_id: value}} for SlackDriver.submit_view."""
        values = dict(values or {})
        out: dict[str, dict[str, Any]] = {}
        for block in view.view.get("blocks") or []:
            element = block.get("element") or {}
            action_id, block_id, kind = element.get("action_id"), block.get("block_id"), element.get("type")
            if block.get("type") != "input" or not action_id or block_id is None:
                continue
            options = [o["value"] for o in element.get("options") or []]
            if action_id in values:
                value = values.pop(action_id)
            elif kind == "plain_text_input":
                label = str((block.get("label") or {}).get("text") or "")
                value = f"{words}: {label}"[: int(element.get("max_length") or 3000)]
            elif kind == "static_select" and options:
                value = (element.get("initial_option") or {}).get("value") or options[0]
            elif kind == "radio_buttons" and options:
                value = options[-1]
            elif kind == "checkboxes":
                value = options
            elif kind == "users_select" and person:
                value = person
            else:
                continue
            out.setdefault(block_id, {})[action_id] = value
        if values:
            raise Broken(f"modal {view.view.get('callback_id')!r} has no input {sorted(values)}")
        return out

    def options(self, view: Any, action_id: str) -> list[str]:
        for _, element in self.elements(view.view.get("blocks") or []):
            if element["action_id"] == action_id:
                return [o["value"] for o in element.get("options") or []]
        raise Broken(f"modal {view.view.get('callback_id')!r} has no element {action_id!r}")

    def opened_by_slash(self, callback_id: str, user: str, text: str, channel: str, what: str) -> Any:
        before = self.open_views(callback_id)
        self.slash_text(user, text, channel, answered=False)
        view = self.new_view(callback_id, before, what)
        self.settle()
        return view

    # ---- set-up ----------------------------------------------------------------------------------------
    def declare(self, text: str) -> Incident:
        reply = self.slash_text("U0L1", text, "C0GENERAL")
        match = re.search(r"INC-(\d+)", reply)
        if not match:
            raise Broken(f"`/incident {text}` did not declare: {reply!r}")
        incident = self.bot.wait_provisioned(int(match.group(1)), timeout=30)
        return Incident(incident.id, incident.channel_id)

    def set_up(self) -> None:
        self.main = self.declare(f"declare sev1 {MAIN_TITLE}")
        self.life = self.declare(f"declare sev2 {LIFE_TITLE}")
        self.pool = [self.declare(f"declare sev2 {POOL_TITLE} (pool {i + 1})") for i in range(self.repeat)]
        self.settle()

    # ---- subcommands -----------------------------------------------------------------------------------
    def subcommand_cases(self) -> dict[str, list[tuple[str, Callable[[Row, int], None]]]]:
        main, life = self.main, self.life
        say = self.slack.slash_command

        def simple(user: str, text: Callable[[int], str] | str, channel: str, opens: str | None = None) -> Callable[[Row, int], None]:
            def sample(row: Row, i: int) -> None:
                words = text(i) if callable(text) else text
                self.timed(row, lambda: say(user, words, channel_id=channel), opens=opens)
            return sample

        def ic(row: Row, i: int) -> None:
            target = self.person(self.holder(main.id, "ic"), i)
            self.timed(row, lambda: say("U0L1", f"ic <@{target}>", channel_id=main.channel))

        def assign(row: Row, i: int) -> None:
            target = self.person(self.holder(main.id, "comms"), i)
            self.timed(row, lambda: say("U0L1", f"assign comms <@{target}>", channel_id=main.channel))

        def unassign(row: Row, i: int) -> None:
            if self.holder(main.id, "comms") is None:
                self.slash_text("U0L1", f"assign comms <@{PEOPLE[i % 3]}>", main.channel)
                self.settle()
            self.timed(row, lambda: say("U0L1", "unassign comms", channel_id=main.channel))

        def status(row: Row, i: int) -> None:
            opens = [s for s in self.config.statuses if s != self.closed_status()]
            current = self.status(main.id)
            target = [s for s in opens if s != current][i % (len(opens) - 1)]
            self.timed(row, lambda: say("U0L1", f"status {target} bench step {i + 1}", channel_id=main.channel))

        def sev(row: Row, i: int) -> None:
            current = str(self.incident_row(main.id).severity)
            target = "sev3" if current == "sev2" else "sev2"
            self.timed(row, lambda: say("U0L1", f"sev {target} bench", channel_id=main.channel))

        def ack(row: Row, i: int) -> None:
            self.slash_text("U0L1", "page <@U0L2>", main.channel)  # something to acknowledge
            self.settle()
            self.timed(row, lambda: say("U0L2", "ack", channel_id=main.channel))

        def page(row: Row, i: int) -> None:
            target = self.person(None, i, ("U0L2", "U0IC", "U0EXEC"))
            self.timed(row, lambda: say("U0L1", f"page <@{target}>", channel_id=main.channel))

        def runbook_named(row: Row, i: int) -> None:
            inc = self.pool[i % len(self.pool)]
            name = self.runbook_for(inc)
            self.timed(row, lambda: say("U0L1", f"runbook {name}", channel_id=inc.channel))
            self.started_runbooks.setdefault(inc.id, set()).add(name)

        def resolve(row: Row, i: int) -> None:
            self.ensure_open(life)
            ic = self.holder(life.id, "ic") or "U0L1"
            self.timed(row, lambda: say(ic, "resolve", channel_id=life.channel), opens=self.C.RESOLVE_MODAL)

        def reopen(row: Row, i: int) -> None:
            self.ensure_resolved(life)
            self.timed(row, lambda: say("U0L1", f"reopen bench cycle {i + 1}", channel_id=life.channel))

        due = (date.today() + timedelta(days=14)).isoformat()
        return {
            "declare": [("declare sev1 <title>", simple("U0L1", lambda i: f"declare sev1 Bench declare {i + 1}: checkout errors", "C0GENERAL")),
                        ("declare (no title: modal)", simple("U0L1", "declare", "C0GENERAL", self.C.DECLARE_MODAL))],
            "help": [("help", simple("U0L1", "help", "C0GENERAL"))],
            "list": [("list", simple("U0L1", "list", "C0GENERAL"))],
            "update": [("update (modal)", simple("U0L1", "update", main.channel, self.C.UPDATE_MODAL))],
            "ack": [("ack", ack)],
            "page": [("page @user", page)],
            "escalate": [("escalate (modal)", simple("U0L1", "escalate", main.channel, self.C.ESCALATE_MODAL))],
            "resolve": [("resolve (modal)", resolve)],
            "followup": [("followup <what> @owner <date>", simple("U0L1", lambda i: f"followup Bench follow-up {i + 1} <@U0L2> {due}", main.channel))],
            "postmortem": [("postmortem <link>", simple("U0L1", lambda i: f"postmortem https://docs.example.com/pm/bench-{i + 1}", main.channel))],
            "export": [("export", simple("U0L1", "export", main.channel))],
            "ic": [("ic @user", ic)],
            "assign": [("assign comms @user", assign)],
            "unassign": [("unassign comms", unassign)],
            "who": [("who", simple("U0L2", "who", main.channel))],
            "runbook": [("runbook (list)", simple("U0L1", "runbook", main.channel)), ("runbook <name>", runbook_named)],
            "status": [("status <status> <note>", status)],
            "reopen": [("reopen", reopen)],
            "sev": [("sev sev2|sev3", sev)],
            "note": [("note <text>", simple("U0L2", lambda i: f"note Bench note {i + 1}: p99 back to 180ms", main.channel))],
            "timeline": [("timeline", simple("U0L1", "timeline", main.channel))],
        }

    def runbook_for(self, inc: Incident) -> str:
        """A runbook not running on this incident yet, those that fit it first: read from `/incident runbook` in the
        incident's channel (untimed), which lists them and stars the ones that fit."""
        if inc.id not in self.runbook_names:
            listing = self.slash_text("U0L1", "runbook", inc.channel)
            lines = [(m.group(1), "fits this incident" in line) for line in listing.splitlines()
                     if (m := re.search(r"`([^`\s]+)`:", line))]
            self.runbook_names[inc.id] = [n for n, fits in lines if fits] + [n for n, fits in lines if not fits]
        started = self.started_runbooks.get(inc.id, set())
        for name in self.runbook_names[inc.id]:
            if name not in started:
                return name
        raise Broken(f"no runbook left to start on INC-{inc.id} (listed: {self.runbook_names[inc.id]})")

    def ensure_resolved(self, inc: Incident) -> None:
        if self.status(inc.id) == self.closed_status():
            return
        ic = self.holder(inc.id, "ic") or "U0L1"
        view = self.opened_by_slash(self.C.RESOLVE_MODAL, ic, "resolve", inc.channel, "resolve")
        self.slack.submit_view(ic, view.id, self.resolve_values(view))
        self.settle()
        if self.status(inc.id) != self.closed_status():
            raise Broken(f"INC-{inc.id} did not resolve")

    def ensure_open(self, inc: Incident) -> None:
        if self.status(inc.id) != self.closed_status():
            return
        self.slash_text("U0L1", "reopen bench", inc.channel)
        self.settle()

    def resolve_values(self, view: Any) -> dict[str, dict[str, Any]]:
        return self.fill(view, words="Rolled back payments-api to v142; about 4,000 checkouts failed")

    def run_subcommands(self) -> None:
        from commands.registry import REGISTRY

        cases = self.subcommand_cases()
        print(f"\n/incident subcommands ({len(REGISTRY)} registered):")
        for verb in list(REGISTRY):
            if verb not in cases:
                self.not_measured("subcommand", verb, "registered in commands/registry.py; the bench does not know how to call it")
                continue
            for name, sample in cases[verb]:
                self.measure("subcommand", name, sample)
        for verb in cases:
            if verb not in REGISTRY:
                self.warnings.append(f"the bench knows `/incident {verb}` but it is no longer registered")

    # ---- buttons ---------------------------------------------------------------------------------------
    def bot_messages_with(self, action_id: str, channels: list[str] | None = None) -> list[Any]:
        messages = self.ws.all_messages() if channels is None else [m for c in channels for m in self.ws.messages(c)]
        return [m for m in messages if m.user == "U0BOT" and any(e["action_id"] == action_id for _, e in self.elements(m.blocks))]

    def pending_step(self) -> tuple[Any, str]:
        """A runbook checklist block whose step is still pending and that no click has touched yet."""
        channels = [inc.channel for inc in self.pool] + [self.main.channel]
        for message in self.bot_messages_with(self.A.RUNBOOK_STEP_DONE, channels):
            current = self.ws.find_message(message.channel, message.ts) or message
            for block_id, element in self.elements(current.blocks):
                if element["action_id"] == self.A.RUNBOOK_STEP_DONE and block_id is not None:
                    key = (current.channel, current.ts, block_id)
                    if key not in self.touched_steps:
                        self.touched_steps.add(key)
                        return current, block_id
        raise Broken("no pending runbook step left to click (start more runbooks: raise --repeat's pool)")

    def ensure_checklists(self) -> None:
        """Enough pending steps for the step buttons: start runbooks on the pool incidents (untimed) if few are left."""
        def pending() -> int:
            channels = [inc.channel for inc in self.pool] + [self.main.channel]
            return sum(1 for m in self.bot_messages_with(self.A.RUNBOOK_STEP_DONE, channels)
                       for b, e in self.elements(m.blocks)
                       if e["action_id"] == self.A.RUNBOOK_STEP_DONE and (m.channel, m.ts, b) not in self.touched_steps)
        need = 4 * self.repeat + 2
        for inc in self.pool * 3:
            if pending() >= need:
                return
            try:
                name = self.runbook_for(inc)
            except Broken:
                continue
            self.slash_text("U0L1", f"runbook {name}", inc.channel)
            self.started_runbooks.setdefault(inc.id, set()).add(name)
            self.settle()

    def run_buttons(self) -> None:
        from bot.ids import START_RUNBOOK_PREFIX

        A, main, life = self.A, self.main, self.life
        print("\nbuttons:")
        known: set[str] = set()

        def have(name: str) -> str | None:
            value = getattr(A, name, None)
            if value is not None:
                known.add(str(value))
            return value

        if have("TAKE_COMMAND"):
            def take_command(row: Row, i: int) -> None:
                clicker = self.person(self.holder(main.id, "ic"), i, ("U0L2", "U0IC"))
                card = self.card(main)
                self.timed(row, lambda: self.slack.click(clicker, main.channel, card.ts, A.TAKE_COMMAND))
            self.measure("button", "Take command (card)", take_command)

        if have("PICK_ROLE"):
            def pick_role(row: Row, i: int) -> None:
                card = self.card(main)
                values = [e for _, e in self.elements(card.blocks) if e["action_id"] == A.PICK_ROLE]
                if not values:
                    raise Broken("the card has no role picker")
                options = [o["value"] for o in values[0].get("options") or []]
                value = options[i % len(options)]
                self.timed(row, lambda: self.slack.click("U0L1", main.channel, card.ts, A.PICK_ROLE, value=value),
                           opens=self.C.ASSIGN_ROLE)
            self.measure("button", "Assign a role… (card select)", pick_role)

        if have("OPEN_RESOLVE"):
            def resolve_button(row: Row, i: int) -> None:
                self.ensure_open(life)
                card = self.card(life)
                ic = self.holder(life.id, "ic") or "U0L1"
                self.timed(row, lambda: self.slack.click(ic, life.channel, card.ts, A.OPEN_RESOLVE), opens=self.C.RESOLVE_MODAL)
            self.measure("button", "Resolve… (card)", resolve_button)

        known.add(START_RUNBOOK_PREFIX + "<n>")

        def start_runbook(row: Row, i: int) -> None:
            inc = self.pool[i % len(self.pool)]
            card = self.card(inc)
            started = self.started_runbooks.setdefault(inc.id, set())
            offers = [e for _, e in self.elements(card.blocks) if str(e["action_id"]).startswith(START_RUNBOOK_PREFIX)
                      and str(e.get("value", "")).partition(":")[2] not in started]
            if not offers:
                raise Broken(f"INC-{inc.id}'s card offers no runbook that is not running yet")
            element = offers[0]
            self.timed(row, lambda: self.slack.click("U0L1", inc.channel, card.ts, element["action_id"]))
            started.add(str(element.get("value", "")).partition(":")[2])
        self.measure("button", "Start runbook (card)", start_runbook)

        self.ensure_checklists()
        for attr, label in (("RUNBOOK_STEP_DONE", "runbook step Done"), ("RUNBOOK_STEP_SKIP", "runbook step Skip"),
                            ("RUNBOOK_STEP_FAILED", "runbook step Failed")):
            action = have(attr)
            if action is None:
                continue

            def step(row: Row, i: int, action: str = action) -> None:
                message, block_id = self.pending_step()
                opens = self.C.RUNBOOK_FAILURE_NOTE if action == getattr(A, "RUNBOOK_STEP_FAILED", None) else None
                self.timed(row, lambda: self.slack.click("U0L2", message.channel, message.ts, action, block_id=block_id),
                           opens=opens)
            self.measure("button", label, step)

        if have("OPEN_UPDATE"):
            def post_update(row: Row, i: int) -> None:
                message = self.reminder(A.OPEN_UPDATE, "update_reminder", main.channel)
                self.timed(row, lambda: self.slack.click("U0L1", message.channel, message.ts, A.OPEN_UPDATE), opens=self.C.UPDATE_MODAL)
            self.measure("button", "Post update (reminder)", post_update)

        if have("OPEN_ESCALATE"):
            def escalate(row: Row, i: int) -> None:
                message = self.reminder(A.OPEN_ESCALATE, "runbook_check", None)
                self.timed(row, lambda: self.slack.click("U0L1", message.channel, message.ts, A.OPEN_ESCALATE),
                           opens=self.C.ESCALATE_MODAL)
            self.measure("button", "Escalate (15-minute prompt)", escalate)

        if have("PAGE_ACK"):
            def page_ack(row: Row, i: int) -> None:
                message = self.fresh_page_dm("U0L2")
                self.timed(row, lambda: self.slack.click("U0L2", message.channel, message.ts, A.PAGE_ACK))
            self.measure("button", "Acknowledge (page DM)", page_ack)

        # The declare modal's live inputs (dispatch_action): block_actions from inside a modal.
        print("\nmodal inputs that answer live:")
        for attr, label in (("DECLARE_SCOPE", "declare modal: who is affected"), ("DECLARE_SERVICE", "declare modal: service")):
            action = have(attr)
            if action is None:
                continue

            def change(row: Row, i: int, action: str = action) -> None:
                view = self.opened_by_slash(self.C.DECLARE_MODAL, "U0L1", "declare", "C0GENERAL", "declare")
                block_id = next(b for b, e in self.elements(view.view.get("blocks") or []) if e["action_id"] == action)
                options = self.options(view, action)
                value = options[i % len(options)]
                self.timed(row, lambda: self.slack.select_in_view("U0L1", view.id, block_id, action, value))
            self.measure("modal input", label, change)

        inputs_only = {str(getattr(A, name)) for name in ("DECLARE_TITLE", "DECLARE_SEVERITY", "DECLARE_DESCRIPTION",
                                                          "ASSIGN_ROLE_USER", "RUNBOOK_NOTE") if hasattr(A, name)}
        for action in A:
            if str(action) not in known and str(action) not in inputs_only:
                self.not_measured("button", str(action), "an ActionId in bot/ids.py the bench does not know how to click")

    def reminder(self, action_id: str, timer_kind: str, channel: str | None) -> Any:
        """A bot message carrying this button; makes the timer that posts one due (and ticks) when there is none."""
        channels = [channel] if channel else None
        found = self.bot_messages_with(action_id, channels)
        if not found:
            self.bot.make_due(timer_kind)
            self.tick()
            found = self.wait(lambda: self.bot_messages_with(action_id, channels), f"a message with {action_id!r}")
            self.settle()
        return found[-1]

    def fresh_page_dm(self, user: str) -> Any:
        """Page `user` on the main incident (untimed) and return the DM with its Acknowledge button."""
        def dms() -> list[Any]:
            channel = self.ws.dm_channel(user)
            return self.bot_messages_with(self.A.PAGE_ACK, [channel.id]) if channel else []
        before = {m.ts for m in dms()}
        self.slash_text("U0L1", f"page <@{user}>", self.main.channel)
        message = self.wait(lambda: next((m for m in dms() if m.ts not in before), None), f"the page DM to {user}")
        self.settle()
        return message

    # ---- modal submits ---------------------------------------------------------------------------------
    def run_submits(self) -> None:
        A, C, main, life = self.A, self.C, self.main, self.life
        print("\nmodal submits:")
        known: set[str] = set()

        def have(name: str) -> str | None:
            value = getattr(C, name, None)
            if value is not None:
                known.add(str(value))
            return value

        if have("DECLARE_MODAL"):
            def declare_submit(row: Row, i: int) -> None:
                view = self.opened_by_slash(C.DECLARE_MODAL, "U0L1", "declare", "C0GENERAL", "declare")
                severities = self.options(view, A.DECLARE_SEVERITY)
                values = self.fill(view, {A.DECLARE_TITLE: f"Bench modal declare {i + 1}: login errors",
                                          A.DECLARE_SEVERITY: "sev2" if "sev2" in severities else severities[-1]})
                self.timed(row, lambda: self.slack.submit_view("U0L1", view.id, values))
            self.measure("modal submit", "declare modal", declare_submit)

        if have("ASSIGN_ROLE"):
            def assign_submit(row: Row, i: int) -> None:
                card = self.card(main)
                pickers = [e for _, e in self.elements(card.blocks) if e["action_id"] == A.PICK_ROLE]
                if not pickers:
                    raise Broken("the card has no role picker")
                value = next((o["value"] for o in pickers[0].get("options") or [] if o["value"].endswith(":scribe")),
                             pickers[0]["options"][0]["value"])
                role = value.partition(":")[2]
                before = self.open_views(C.ASSIGN_ROLE)
                self.slack.click("U0L1", main.channel, card.ts, A.PICK_ROLE, value=value)
                view = self.new_view(C.ASSIGN_ROLE, before, "assign role")
                self.settle()
                person = self.person(self.holder(main.id, role), i)
                values = self.fill(view, person=person)
                self.timed(row, lambda: self.slack.submit_view("U0L1", view.id, values))
            self.measure("modal submit", "assign role modal", assign_submit)

        if have("UPDATE_MODAL"):
            def update_submit(row: Row, i: int) -> None:
                view = self.opened_by_slash(C.UPDATE_MODAL, "U0L1", "update", main.channel, "stakeholder update")
                values = self.fill(view, words=f"Update {i + 1}: about 30% of EU checkouts fail; rolling back")
                self.timed(row, lambda: self.slack.submit_view("U0L1", view.id, values))
            self.measure("modal submit", "update modal", update_submit)

        if have("ESCALATE_MODAL"):
            def escalate_submit(row: Row, i: int) -> None:
                view = self.opened_by_slash(C.ESCALATE_MODAL, "U0L1", "escalate", main.channel, "escalate")
                values = self.fill(view, words=f"Escalation {i + 1}: rolled back, 5xx still at 30%")
                self.timed(row, lambda: self.slack.submit_view("U0L1", view.id, values))
            self.measure("modal submit", "escalate modal", escalate_submit)

        if have("RESOLVE_MODAL"):
            def resolve_submit(row: Row, i: int) -> None:
                self.ensure_open(life)
                ic = self.holder(life.id, "ic") or "U0L1"
                view = self.opened_by_slash(C.RESOLVE_MODAL, ic, "resolve", life.channel, "resolve")
                values = self.resolve_values(view)
                self.timed(row, lambda: self.slack.submit_view(ic, view.id, values))
            self.measure("modal submit", "resolve modal", resolve_submit)

        if have("RUNBOOK_FAILURE_NOTE"):
            def note_submit(row: Row, i: int) -> None:
                self.ensure_checklists()
                message, block_id = self.pending_step()
                before = self.open_views(C.RUNBOOK_FAILURE_NOTE)
                self.slack.click("U0L2", message.channel, message.ts, A.RUNBOOK_STEP_FAILED, block_id=block_id)
                view = self.new_view(C.RUNBOOK_FAILURE_NOTE, before, "runbook failure note")
                self.settle()
                values = self.fill(view, words=f"The rollback did not help ({i + 1})")
                self.timed(row, lambda: self.slack.submit_view("U0L2", view.id, values))
            self.measure("modal submit", "runbook failure note", note_submit)

        for callback in C:
            if str(callback) not in known:
                self.not_measured("modal submit", str(callback), "a CallbackId in bot/ids.py the bench does not know how to submit")

    # ---- events ----------------------------------------------------------------------------------------
    def run_events(self) -> None:
        from bot.slack_sim.state import Message

        main = self.main
        reaction = self.config.pin_reaction
        print("\nEvents API (pins):")
        reacted: list[Any] = []
        pinned: list[Any] = []

        def evidence(i: int, what: str) -> Any:
            return self.ws.add_message(Message(ts=self.ws.new_ts(), channel=main.channel, user="U0L2",
                                               text=f"Bench evidence {what} {i + 1}: p99 latency back to 180ms"))

        def reaction_event(kind: str, message: Any) -> dict[str, Any]:
            return {"type": kind, "user": "U0L1", "reaction": reaction, "item_user": message.user,
                    "item": {"type": "message", "channel": main.channel, "ts": message.ts}}

        def pin_event(kind: str, message: Any) -> dict[str, Any]:
            return {"type": kind, "user": "U0L1", "channel_id": main.channel,
                    "item": {"type": "message", "channel": main.channel,
                             "message": {"type": "message", "user": message.user, "text": message.text, "ts": message.ts}}}

        def reaction_added(row: Row, i: int) -> None:
            message = evidence(i, "reacted")
            self.timed(row, lambda: self.slack.event(reaction_event("reaction_added", message)))
            reacted.append(message)

        def reaction_removed(row: Row, i: int) -> None:
            message = reacted[i] if i < len(reacted) else evidence(i, "unreacted")
            self.timed(row, lambda: self.slack.event(reaction_event("reaction_removed", message)))

        def pin_added(row: Row, i: int) -> None:
            message = evidence(i, "pinned")
            self.timed(row, lambda: self.slack.event(pin_event("pin_added", message)))
            pinned.append(message)

        def pin_removed(row: Row, i: int) -> None:
            message = pinned[i] if i < len(pinned) else evidence(i, "unpinned")
            self.timed(row, lambda: self.slack.event(pin_event("pin_removed", message)))

        self.measure("event", f"reaction_added :{reaction}:", reaction_added)
        self.measure("event", f"reaction_removed :{reaction}:", reaction_removed)
        self.measure("event", "pin_added", pin_added)
        self.measure("event", "pin_removed", pin_removed)


# ---------------------------------------------------------------------------------------------------------
# report


def machine() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    model = next((line.split(":", 1)[1].strip() for line in run("lscpu").splitlines() if line.startswith("Model name")), "")
    dirty = run("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")  # takes no index lock
    return {"nproc": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "commit": run("git", "rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else ""),
            "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def print_table(rows: list[Row], target_ms: float) -> None:
    print(f"\n{'kind':<13} {'name':<36} {'n':>3} {'p50 ms':>8} {'max ms':>8}  verdict")
    print("-" * 84)
    for row in rows:
        times = row.times()
        p50 = f"{pct(times, 50):8.1f}" if times else f"{'-':>8}"
        mx = f"{max(times):8.1f}" if times else f"{'-':>8}"
        verdict = row.verdict(target_ms)
        refused = sum(1 for s in row.samples if s.refused)
        extra = f"  ({refused} refused: {next(s.reply for s in row.samples if s.refused)[:60]!r})" if refused else ""
        if row.not_measured:
            extra = f"  ({row.not_measured})"
        elif row.error:
            extra = f"  ({row.error[:80]})"
        print(f"{row.kind:<13} {row.name[:36]:<36} {len(times):>3} {p50} {mx}  {verdict}{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="samples per subcommand, button and submit (5)")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the simulator adds to every Web API call (0.3)")
    parser.add_argument("--target-ms", type=float, default=100.0, help="an ack at or over this many ms fails (100)")
    parser.add_argument("--settle-timeout", type=float, default=30.0, help="seconds to wait for the bot to go quiet (30)")
    parser.add_argument("--people", choices=("fresh", "seeded"), default="fresh",
                        help="who `ic`, `assign`, `page`, the role modal name and who clicks Take command: a person the bot "
                             "has not looked up yet (fresh, the default) or a seeded user it has likely cached (seeded)")
    parser.add_argument("--only", help="comma-separated substrings of 'kind:name' to measure (e.g. 'ic @,assign,button:')")
    parser.add_argument("--json", metavar="FILE", help="also write the results (every sample) as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    catcher = LogCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)

    info = machine()
    print(f"ack bench: every ack under {args.target_ms:.0f} ms, Slack latency {args.latency * 1000:.0f} ms per Web API call, "
          f"{args.repeat} samples each, people named: {args.people}")
    print(f"machine: nproc={info['nproc']} ({info['cpu']}), Python {info['python']}, commit {info['commit']}, {info['date_utc']}")

    problems: list[str] = []
    warnings: list[str] = []
    rows: list[Row] = []
    backend = "?"
    work_tracked = False
    try:
        from tests.harness import paging_config, running_bot

        with tempfile.TemporaryDirectory(prefix="sevbot-ackbench-") as tmp, \
                scratch_database(args.database_url, Path(tmp), sqlite_name="ack-bench.db", pg_prefix="sevbot_ackbench_") as url:
            backend = "postgresql" if url.startswith("postgresql") else "sqlite"
            print(f"database: {backend}")
            try:
                config = paging_config()
                with running_bot(url, config) as bot:
                    bench = AckBench(bot, config, args)
                    t0 = time.monotonic()
                    try:
                        bench.set_up()
                        print(f"set-up: INC-{bench.main.id} (main), INC-{bench.life.id} (resolve/reopen), "
                              f"{len(bench.pool)} pool incidents, provisioned at no latency in {time.monotonic() - t0:.1f}s")
                        bot.sim.latency = args.latency
                        bench.run_subcommands()
                        bench.run_buttons()
                        bench.run_submits()
                        bench.run_events()
                    except Broken as exc:
                        bench.problems.append(f"set-up or run: {exc}")
                    finally:
                        bot.sim.latency = 0.0
                        if not bench.quiet.settle(60):
                            bench.warnings.append("background work still running 60 s after the last sample")
                        rows, problems, warnings = bench.rows, bench.problems, bench.warnings
                        work_tracked = bench.quiet.tracking_work
                        if bot.sim.violations:
                            problems.append(f"Slack spec violations: {bot.sim.violations[:5]}")
                            bot.sim.violations.clear()  # reported here; running_bot would raise on them
                    print(f"\nrun took {time.monotonic() - t0:.0f}s")
            except AssertionError as exc:
                problems.append(f"stopping the bot: {exc}")
    except Exception as exc:  # noqa: BLE001 - the run broke: say how, exit 1
        traceback.print_exc()
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        root.removeHandler(catcher)

    errors = catcher.lines(logging.ERROR)
    problems += [f"logged: {line}" for line in errors[:10]]
    if len(errors) > 10:
        problems.append(f"… and {len(errors) - 10} more ERROR log lines")

    print_table(rows, args.target_ms)
    measured = [r for r in rows if r.samples]
    failing = [r for r in measured if r.verdict(args.target_ms) == "FAIL"]
    missing = [r for r in rows if r.not_measured]
    print(f"\n{len(measured)} measured, {len(failing)} over {args.target_ms:.0f} ms"
          + (f": {', '.join(r.name for r in failing)}" if failing else "")
          + (f"; {len(missing)} NOT MEASURED: {', '.join(r.name for r in missing)}" if missing else ""))
    other_logs = [line for line in catcher.lines(logging.WARNING) if not line.startswith(("ERROR", "CRITICAL"))]
    if other_logs or warnings:
        print("\nnotes:")
        for line in list(dict.fromkeys(warnings)) + other_logs[:10]:
            print(f"  - {line}")

    if args.json:
        results = {
            "bench": "ack", "machine": info, "database": backend, "latency_s": args.latency, "target_ms": args.target_ms,
            "repeat": args.repeat, "people": args.people, "background_work_tracked": work_tracked,
            "rows": [{"kind": r.kind, "name": r.name, "n": len(r.samples),
                      "p50_ms": pct(r.times(), 50) if r.samples else None, "max_ms": max(r.times()) if r.samples else None,
                      "verdict": r.verdict(args.target_ms), "not_measured": r.not_measured, "error": r.error,
                      "samples": [{"ms": round(s.ms, 2), "status": s.status, "refused": s.refused, "reply": s.reply} for s in r.samples]}
                     for r in rows],
            "problems": problems, "warnings": list(dict.fromkeys(warnings)), "log_warnings": other_logs,
        }
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nresults written to {args.json}")
    print_problems(problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
