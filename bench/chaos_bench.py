#!/usr/bin/env python3
"""Chaos benchmark: `/incident declare` under SIGKILLs and a slow, hanging Slack; proves "exactly once" from outside.

Each round sends 50 declares (`/incident declare sev1 Chaos round R number N`), 10 in flight, to a real `sevbot serve`
process (bench/serve_harness.py's BotProcess: a fixed port, so a restart is the same replica and takes its own unfinished
work back). The Slack simulator adds a random 20-200 ms to every Web API call, and 1% of the calls it carries out have
their answer held 11 s, past the bot's client timeout (SLACK_TIMEOUT, 3 s by default): Slack did it, the bot never heard. At a random moment in
each round (0.2-3 s after it starts) the serve process is SIGKILLed and restarted at once; the round's remaining
declares go to the new process. SEVBOT_UPDATE_INTERVAL=60s makes stakeholder-update reminders fire during the run.

A sender sends its next declare when the previous one was acked AND its "INC-n is open in" reply arrived through the
response_url, or after the ack alone once the process that acked it is dead. A declare whose request died with the
process (connection refused or reset, or the answer cut off) is not sent again: Slack would have shown the user an error.
With --drain-between-rounds a round starts only once every earlier declare is provisioned and told, so each round's
recovery is from one crash; without it, the next kill often comes before the last one's work is finished.

After the rounds (and once every recorded incident is provisioned and the outbox has no unfinished row, up to
--timeout), everything is counted per recorded incident from the simulator's workspace and the scratch database:
  channels       bot-created channels for the incident's title (and successful conversations.create calls)
  cards          messages in those channels whose first block is a header
  announcements  messages in C0STAKE that name its INC id
  replies        response_url posts saying "INC-n is open in"
  reminders      update_reminder timeline events (decided) vs reminder posts in its channel (posted), matched by
                 reminder number; decisions whose outbox row was still unfinished at the snapshot are "in flight"
  acked => recorded: every declare acked HTTP 200 "Declaring INC-n" must be a recorded incident with that title
Target: exactly one of each per incident, reminders posted == decided, 0 acked-but-missing.
Recovery, per round: restart (healthz 200) -> the last incident declared before the kill and not yet done at the kill
is done (its "is open in" reply recorded by the simulator). Target p99 <= 10 s.

Anything off is then shown incident by incident: the simulator's calls for it (timed from the nearest kill), the state
of its reply in the outbox, the stakeholder-channel look-ups before a second announcement, and its serve-log lines
(each serve process's log is kept: BotProcess truncates it on restart; --keep-logs DIR keeps them after the run).

Run:  .venv/bin/python bench/chaos_bench.py [--rounds 20] [--seed 1] [--update-interval 5s] [--drain-between-rounds]
                                            [--database-url postgresql://postgres@127.0.0.1:5432/test] [--json FILE]
Exit status: 0 whether or not the targets are met (this is a measurement); 1 if the run itself broke (the bot would
not start or restart, the bench crashed).
"""
from __future__ import annotations

import argparse
import bisect
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.db.models import Incident, OutboxItem, TimelineEvent  # noqa: E402
from bot.slack_sim import SlackDriver, SlackSimulator, Workspace  # noqa: E402
from bot.slack_sim.state import BOT_USER_ID  # noqa: E402
from declare_bench import ACK_RE, DECLARER, STAKEHOLDER_CHANNEL, config_toml  # noqa: E402
from serve_harness import BOT_TOKEN, BotProcess, argument_parser, print_problems, scratch_database, summary  # noqa: E402

TITLE = "Chaos round {round} number {number}"
TITLE_RE = re.compile(r"^Chaos round (\d+) number (\d+)$")
# The slug of the title in the channel name (sev1-<date>-chaos-round-R-number-N, maybe with a -k suffix).
CHANNEL_RE = re.compile(r"chaos-round-(\d+)-number-(\d+)(?:-(\d+))?$")
INC_RE = re.compile(r"\bINC-(\d+)\b")
OPEN_RE = re.compile(r"\bINC-(\d+) is open in\b")
REMINDER_RE = re.compile(r"stakeholder update for INC-(\d+) is due now(?: \(reminder (\d+):)?")
RECOVERY_TARGET_S = 10.0

Key = tuple[int, int]  # (round, number): one declare


# ---------------------------------------------------------------------------------------------------------
# what happened, as the bench saw it


@dataclass
class Sent:
    round: int
    number: int
    sent_at: float  # time.time() just before the request
    gen: int  # which serve process (0 = the first) was up when it was sent
    status: int  # HTTP status; 0 = the request died (connection refused / reset: the process was killed)
    ack_s: float
    incident_id: int | None  # from "Declaring INC-n"
    error: str = ""
    replied: bool = False  # its "is open in" reply arrived before the sender moved on


@dataclass
class Round:
    index: int
    started_at: float
    kill_after_s: float
    killed_at: float = 0.0
    healthz_at: float = 0.0  # the restarted process answered /healthz 200
    restart_s: float = 0.0  # kill -> healthz 200
    sent: list[Sent] = field(default_factory=list)
    ended_at: float = 0.0


class ChaosRun:
    """The load generator and the killer for one run: rounds of declares against `bot`, one SIGKILL per round."""

    def __init__(self, args: argparse.Namespace, sim: SlackSimulator, bot: BotProcess, driver: SlackDriver,
                 log_dir: Path) -> None:
        self.args, self.sim, self.bot, self.driver, self.log_dir = args, sim, bot, driver, log_dir
        self.rng = random.Random(args.seed)  # the kill moments: the bench's own stream, reproducible exactly
        self.gen = 0
        self.up = threading.Event()  # set while a serve process is up and declares may be sent
        self.up.set()
        self.lock = threading.Lock()
        self.rounds: list[Round] = []
        self.restart_failure: str | None = None
        self.crashes: list[str] = []  # a sender that raised: the bench is broken, not the bot

    # -- the serve process's log survives restarts (BotProcess.start truncates it) ------------------------------

    def save_log(self, gen: int | None = None) -> None:
        """Copy the serve log of process `gen` (default: the current one) next to the others."""
        try:
            shutil.copyfile(self.bot.log_path, self.log_dir / f"serve-{self.gen if gen is None else gen:03d}.log")
        except OSError:
            pass

    def logs(self) -> list[Path]:
        return sorted(self.log_dir.glob("serve-*.log"))

    # -- one round -----------------------------------------------------------------------------------------------

    def run_round(self, index: int) -> Round:
        args = self.args
        rnd = Round(index, time.time(), self.rng.uniform(args.kill_min, args.kill_max))
        self.rounds.append(rnd)
        numbers = iter(range(1, args.declares_per_round + 1))
        killer = threading.Thread(target=self._kill_and_restart, args=(rnd,), name=f"chaos-killer-{index}", daemon=True)
        killer.start()

        def sender() -> None:
            while True:
                with self.lock:
                    number = next(numbers, None)
                if number is None:
                    return
                try:
                    sent = self._declare(index, number)
                except Exception as exc:  # noqa: BLE001 - the bench itself broke: reported, and the run exits 1
                    with self.lock:
                        self.crashes.append(f"round {index} declare {number}: {type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    rnd.sent.append(sent)

        senders = [threading.Thread(target=sender, name=f"chaos-sender-{index}-{k}", daemon=True)
                   for k in range(args.concurrency)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        killer.join()
        rnd.ended_at = time.time()
        return rnd

    def _declare(self, round_index: int, number: int) -> Sent:
        if not self.up.wait(timeout=120) or self.restart_failure:
            return Sent(round_index, number, time.time(), self.gen, 0, 0.0, None, "serve process not back up")
        gen = self.gen
        with self.sim._lock:  # noqa: SLF001 - where to start looking for this declare's reply
            first_call = len(self.sim.calls)
        t0 = time.time()
        try:
            resp = self.driver.slash_command(DECLARER, "declare sev1 " + TITLE.format(round=round_index, number=number))
        except (OSError, http.client.HTTPException) as exc:
            # refused, reset, or the answer cut off: the process died under it (URLError, RemoteDisconnected,
            # IncompleteRead, a timeout)
            return Sent(round_index, number, t0, gen, 0, time.time() - t0, None, f"{type(exc).__name__}: {exc}")
        m = ACK_RE.search(resp.text)
        sent = Sent(round_index, number, t0, gen, resp.status, resp.elapsed, int(m.group(1)) if m and resp.status == 200 else None,
                    "" if m else resp.text[:200])
        if sent.incident_id is None:
            return sent
        token = str(resp.payload["response_url"]).rsplit("/", 1)[-1]  # type: ignore[index]

        def its_reply(c: Any) -> bool:
            return (c.method == "response_url" and c.args.get("token") == token and c.http_status == 200
                    and "is open in" in str(c.args.get("text", "")))

        deadline = time.monotonic() + self.args.timeout
        # Wait for the reply while the process that acked it lives; once it is killed, the ack alone will do.
        while self.gen == gen and time.monotonic() < deadline:
            if self.sim.wait_for_call(its_reply, 0.25, start=first_call) is not None:
                sent.replied = True
                break
        return sent

    def _kill_and_restart(self, rnd: Round) -> None:
        time.sleep(max(0.0, rnd.started_at + rnd.kill_after_s - time.time()))
        self.up.clear()
        assert self.bot.proc is not None
        rnd.killed_at = time.time()
        self.bot.proc.kill()  # SIGKILL: no shutdown hook runs
        with self.lock:
            dead = self.gen
            self.gen += 1  # senders waiting on a reply from the dead process move on
        self.bot.proc.wait()
        self.save_log(dead)
        try:
            rnd.restart_s = self.bot.start(timeout=60)
        except RuntimeError as exc:
            self.restart_failure = f"round {rnd.index}: restart failed: {exc}"
            self.up.set()  # the senders see restart_failure and stop
            return
        rnd.healthz_at = time.time()
        self.up.set()


# ---------------------------------------------------------------------------------------------------------
# reading the outcome


@dataclass
class Snapshot:
    incidents: list[Any]
    reminders_decided: dict[int, Counter[int]]  # incident -> reminder number -> timeline events
    reminder_rows: dict[int, dict[int, Any]]  # incident -> reminder number -> its outbox row (done_at, result)
    outbox_unfinished: int
    reply_rows: dict[int, Any]  # incident -> the outbox row of its "is open in" reply
    outbox_unfinished_before: dict[int, int]  # reply row id -> unfinished rows with a smaller id (drained first)


def read_db(reader: Engine) -> Snapshot:
    with reader.connect() as conn:
        incidents = list(conn.execute(select(Incident.id, Incident.title, Incident.channel_id, Incident.channel_name,
                                             Incident.card_ts, Incident.announcement_ts, Incident.provisioned_at,
                                             Incident.provision_attempts, Incident.provision_error)))
        decided: dict[int, Counter[int]] = defaultdict(Counter)
        for inc, data in conn.execute(select(TimelineEvent.incident_id, TimelineEvent.data)
                                      .where(TimelineEvent.kind == "update_reminder")):
            decided[inc][int((data or {}).get("reminder") or 1)] += 1
        rows: dict[int, dict[int, Any]] = defaultdict(dict)
        for row in conn.execute(select(OutboxItem.incident_id, OutboxItem.payload, OutboxItem.done_at, OutboxItem.result,
                                       OutboxItem.dedupe_key).where(OutboxItem.kind == "post",
                                                                     OutboxItem.dedupe_key.like("reminder:%"))):
            m = REMINDER_RE.search(str((row.payload or {}).get("text", "")))
            if m and row.incident_id is not None:
                rows[row.incident_id][int(m.group(2) or 1)] = row
        unfinished_ids = sorted(conn.scalars(select(OutboxItem.id).where(OutboxItem.done_at.is_(None))))
        replies = {r.incident_id: r for r in conn.execute(
            select(OutboxItem.id, OutboxItem.incident_id, OutboxItem.created_at, OutboxItem.done_at, OutboxItem.attempts,
                   OutboxItem.last_error, OutboxItem.result).where(OutboxItem.dedupe_key.like("%:declared_reply")))}
    ahead = {r.id: bisect.bisect_left(unfinished_ids, r.id) for r in replies.values() if r.done_at is None}
    return Snapshot(incidents, decided, rows, len(unfinished_ids), replies, ahead)


def quiesced(reader: Engine, sim: SlackSimulator, *, outbox_too: bool = True) -> tuple[bool, str]:
    """Every recorded incident provisioned and told "is open in", and (outbox_too) no unfinished outbox row."""
    with reader.connect() as conn:
        total = int(conn.scalar(select(func.count()).select_from(Incident)) or 0)
        unprovisioned = int(conn.scalar(select(func.count()).select_from(Incident).where(Incident.provisioned_at.is_(None))) or 0)
        by_kind = dict(conn.execute(select(OutboxItem.kind, func.count()).where(OutboxItem.done_at.is_(None))
                                    .group_by(OutboxItem.kind)).tuples().all())
    unfinished = sum(by_kind.values())
    with sim.workspace.lock:
        told = {int(m.group(1)) for p in sim.workspace.response_posts for m in [OPEN_RE.search(str(p.body.get("text", "")))] if m}
    untold = total - len(told)
    state = f"{total} incidents, {unprovisioned} not provisioned, {untold} not told 'is open in', {unfinished} unfinished outbox rows" + (
        f" ({', '.join(f'{k} {v}' for k, v in sorted(by_kind.items()))})" if by_kind else "")
    return (unprovisioned == 0 and untold <= 0 and (unfinished == 0 or not outbox_too)), state


def count_everything(sim: SlackSimulator, db: Snapshot, read_again: Callable[[], Snapshot], sent: list[Sent]) -> dict[str, Any]:
    """Per recorded incident: channels, cards, announcements, replies, reminders; and acked => recorded. `db` was read
    before Slack's state is taken here; read_again reads the database after it."""
    ws = sim.workspace
    with sim._lock:  # noqa: SLF001 - snapshot
        calls = list(sim.calls)
        hung = list(sim.hung_calls)
    with ws.lock:
        channels = [c for c in ws.channels.values() if not c.is_im and c.creator == BOT_USER_ID and "chaos-round" in c.name]
        messages = {c.id: ws.messages(c.id) for c in channels}
        stake = ws.messages(STAKEHOLDER_CHANNEL)
        posts = [p.body for p in ws.response_posts]
    db_after = read_again()

    incidents = db.incidents
    by_key: dict[Key, list[Any]] = defaultdict(list)
    for inc in incidents:
        m = TITLE_RE.match(inc.title or "")
        if m:
            by_key[(int(m.group(1)), int(m.group(2)))].append(inc)

    chans_by_key: dict[Key, list[Any]] = defaultdict(list)
    orphans: list[str] = []
    for c in channels:
        m = CHANNEL_RE.search(c.name)
        key = (int(m.group(1)), int(m.group(2))) if m else None
        if key is None or key not in by_key:
            orphans.append(f"#{c.name} ({c.id})")
        else:
            chans_by_key[key].append(c)
    created_by_key: Counter[Key] = Counter()
    for c in calls:
        if c.method == "conversations.create" and c.ok:
            m = CHANNEL_RE.search(str((c.response.get("channel") or {}).get("name", "")))
            if m:
                created_by_key[(int(m.group(1)), int(m.group(2)))] += 1

    announced: Counter[int] = Counter()
    announcement_ts: dict[int, list[str]] = defaultdict(list)
    for msg in stake:
        for n in {int(x) for x in INC_RE.findall(msg.text or "")}:
            announced[n] += 1
            announcement_ts[n].append(msg.ts)
    stake_ts = sorted(float(m.ts) for m in stake)
    replies: Counter[int] = Counter()
    for body in posts:
        m = OPEN_RE.search(str(body.get("text", "")))
        if m:
            replies[int(m.group(1))] += 1

    per: dict[int, dict[str, Any]] = {}
    reminders = {"decided": 0, "posted": 0, "in_flight": 0, "gave_up": 0, "missing": 0, "duplicated": 0,
                 "decided_twice": 0, "posted_undecided": 0}
    reminder_issues: list[str] = []
    for key, incs in by_key.items():
        chans = chans_by_key.get(key, [])
        for inc in incs:
            cards = sum(1 for ch in chans for msg in messages.get(ch.id, [])
                        if msg.blocks and msg.blocks[0].get("type") == "header")
            posted: Counter[int] = Counter()
            for ch in chans:
                for msg in messages.get(ch.id, []):
                    m = REMINDER_RE.search(msg.text or "")
                    if m and int(m.group(1)) == inc.id:
                        posted[int(m.group(2) or 1)] += 1
            decided = db.reminders_decided.get(inc.id, Counter())
            decided_later = db_after.reminders_decided.get(inc.id, Counter())
            rows = db.reminder_rows.get(inc.id, {})
            in_flight = gave_up = missing = 0
            for k in decided:
                row = rows.get(k)
                if row is None or row.done_at is None:
                    in_flight += 1  # decided, not yet delivered when the database was read: not judged
                elif (row.result or {}).get("failed"):
                    gave_up += 1
                    reminder_issues.append(f"INC-{inc.id} reminder {k}: the bot gave up posting it ({row.result})")
                elif posted[k] == 0:
                    missing += 1
                    reminder_issues.append(f"INC-{inc.id} reminder {k}: decided, outbox row done, but never posted")
            dup = sum(1 for k, v in posted.items() if v >= 2)
            twice = sum(1 for v in decided.values() if v >= 2)
            undecided = sum(1 for k in posted if k not in decided_later)
            for k, v in posted.items():
                if v >= 2:
                    reminder_issues.append(f"INC-{inc.id} reminder {k}: posted {v} times")
                if k not in decided_later:
                    reminder_issues.append(f"INC-{inc.id} reminder {k}: posted but never decided")
            for k, v in decided.items():
                if v >= 2:
                    reminder_issues.append(f"INC-{inc.id} reminder {k}: decided {v} times")
            reminders["decided"] += sum(decided.values())
            # posts of decisions made after the database was read are not counted here (they are checked against the
            # second read: posted_undecided)
            reminders["posted"] += sum(v for k, v in posted.items() if k in decided)
            reminders["in_flight"] += in_flight
            reminders["gave_up"] += gave_up
            reminders["missing"] += missing
            reminders["duplicated"] += dup
            reminders["decided_twice"] += twice
            reminders["posted_undecided"] += undecided
            per[inc.id] = {"key": key, "title": inc.title, "incidents_for_declare": len(incs),
                           "channels": len(chans), "channel_names": [c.name for c in chans],
                           "creates_ok": created_by_key.get(key, 0), "cards": cards,
                           "announcements": announced.get(inc.id, 0), "announcement_ts": announcement_ts.get(inc.id, []),
                           # stakeholder-channel messages posted after its first announcement and before its last
                           "stake_messages_between": (bisect.bisect_left(stake_ts, float(announcement_ts[inc.id][-1]))
                                                      - bisect.bisect_right(stake_ts, float(announcement_ts[inc.id][0])))
                           if len(announcement_ts.get(inc.id, [])) >= 2 else 0,
                           "replies": replies.get(inc.id, 0),
                           "reminders_decided": sum(decided.values()), "reminders_posted": sum(posted.values()),
                           "provisioned": inc.provisioned_at is not None, "provision_attempts": inc.provision_attempts,
                           "provision_error": inc.provision_error}

    recorded_ids = {inc.id: inc for inc in incidents}
    acked = [s for s in sent if s.incident_id is not None]
    acked_missing = [s for s in acked if s.incident_id not in recorded_ids
                     or recorded_ids[s.incident_id].title != TITLE.format(round=s.round, number=s.number)]
    sent_keys = {(s.round, s.number) for s in sent}
    unacked_recorded = [inc.id for key, incs in by_key.items() for inc in incs
                        if key in sent_keys and inc.id not in {s.incident_id for s in acked}]

    def tally(name: str) -> dict[str, Any]:
        values = [p[name] for p in per.values()]
        return {"total": sum(values), "incidents": len(values), "zero": [i for i, p in per.items() if p[name] == 0],
                "two_or_more": [i for i, p in per.items() if p[name] >= 2]}

    return {
        "incidents": len(incidents),
        "per_declare": tally("incidents_for_declare"),
        "channels": tally("channels"),
        "creates_ok": tally("creates_ok"),
        "orphan_channels": orphans,
        "cards": tally("cards"),
        "announcements": tally("announcements"),
        "replies": tally("replies"),
        "reminders": reminders,
        "reminder_issues": reminder_issues,
        "acked": len(acked),
        "acked_missing": [asdict(s) for s in acked_missing],
        "recorded_not_acked": sorted(unacked_recorded),
        "hung_calls": Counter(c.method for c in hung),
        "hung_call_list": hung,
        "per_incident": per,
    }


def recovery(rounds: list[Round], sent: list[Sent], incidents: list[Any], sim: SlackSimulator) -> list[dict[str, Any]]:
    """Per round: restart (healthz 200) -> the last incident declared before the kill, not done at the kill, is done."""
    with sim._lock:  # noqa: SLF001 - snapshot
        calls = [c for c in sim.calls if c.method == "response_url" and c.http_status == 200]
    done_at: dict[int, float] = {}
    for c in calls:
        m = OPEN_RE.search(str(c.args.get("text", "")))
        if m:
            done_at.setdefault(int(m.group(1)), c.at)
    by_key: dict[Key, list[int]] = defaultdict(list)
    for inc in incidents:
        m = TITLE_RE.match(inc.title or "")
        if m:
            by_key[(int(m.group(1)), int(m.group(2)))].append(inc.id)
    out = []
    for rnd in rounds:
        before = [s for s in sent if s.round == rnd.index and s.sent_at < rnd.killed_at]
        ids = {i for s in before for i in by_key.get((s.round, s.number), [])}
        pending = sorted(i for i in ids if done_at.get(i) is None or done_at[i] > rnd.killed_at)
        never = [i for i in pending if i not in done_at]
        last = max((done_at[i] for i in pending if i in done_at), default=None)
        if never:
            rec = float("inf")
        elif last is None:
            rec = 0.0  # nothing was pending at the kill
        else:
            rec = max(0.0, last - rnd.healthz_at)
        last_id = max((i for i in pending if i in done_at), key=lambda i: done_at[i], default=None)
        out.append({"round": rnd.index, "kill_after_s": rnd.kill_after_s, "restart_to_healthz_s": rnd.restart_s,
                    "sent_before_kill": len(before), "pending_at_kill": len(pending), "never_done": never,
                    "recovery_s": rec, "last_done": f"INC-{last_id}" if last_id else None,
                    "lost_to_kill": sum(1 for s in sent if s.round == rnd.index and s.status == 0)})
    return out


# ---------------------------------------------------------------------------------------------------------
# reporting


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", "--no-optional-locks", *cmd], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"), "commit": commit}


def print_report(r: dict[str, Any]) -> None:
    m, c, rec = r["machine"], r["counts"], r["recovery"]
    print(f"\nsevbot chaos benchmark — {r['rounds']} rounds x {r['declares_per_round']} declares, {r['concurrency']} in flight, "
          f"one SIGKILL + restart per round; backend {r['backend']}; seed {r['seed']}")
    print(f"  {m['date']}; commit {m['commit']}; Python {m['python']}; {m['nproc']} CPUs ({m['cpu']})")
    print(f"  Slack: {r['jitter_ms'][0]:.0f}-{r['jitter_ms'][1]:.0f} ms per Web API call, {r['hang_probability'] * 100:g}% of calls carried "
          f"out but answered after {r['hang_seconds']:g}s ({sum(c['hung_calls'].values())} hung: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(c['hung_calls'].items())) or 'none'}); SEVBOT_UPDATE_INTERVAL={r['update_interval']}")
    d = r["declares"]
    print(f"  declares: {d['sent']} sent, {d['acked']} acked 'Declaring INC-n', {d['lost_to_kill']} died with the process "
          f"(not re-sent), {d['other']} other answers; {c['incidents']} incidents recorded "
          f"({len(c['recorded_not_acked'])} of them recorded but never acked)")
    if r.get("drain_between_rounds"):
        print("  rounds: each started once every earlier declare was provisioned and told (--drain-between-rounds)")
    print(f"  run: {r['wall_s']['rounds']:.1f}s of rounds; settled after {r['wall_s']['settle']:.1f}s more "
          f"({'quiesced' if r['quiesced'] else 'NOT quiesced'}: {r['settle_state']})")

    def line(name: str, t: dict[str, Any], extra: str = "") -> None:
        ok = not t["zero"] and not t["two_or_more"]
        print(f"  {name:<28}{t['total']:>8}{t['incidents']:>11}{len(t['zero']):>8}{len(t['two_or_more']):>8}   "
              f"{'1 per incident':<22}{'PASS' if ok else 'FAIL'}{extra}")

    print(f"\n  {'':<28}{'total':>8}{'incidents':>11}{'with 0':>8}{'with 2+':>8}   {'target':<22}")
    line("incidents per declare", c["per_declare"])
    line("channels", c["channels"], f"   ({len(c['orphan_channels'])} orphan channels)" if c["orphan_channels"] else "")
    line("  conversations.create ok", c["creates_ok"])
    line("cards", c["cards"])
    line("announcements (C0STAKE)", c["announcements"])
    line("'is open in' replies", c["replies"])
    rm = c["reminders"]
    rem_ok = rm["missing"] == 0 and rm["duplicated"] == 0 and rm["decided_twice"] == 0 and rm["posted_undecided"] == 0
    print(f"  {'reminders posted / decided':<28}{rm['posted']:>8}{rm['decided']:>11}{rm['missing']:>8}{rm['duplicated']:>8}   "
          f"{'posted == decided':<22}{'PASS' if rem_ok else 'FAIL'}")
    print(f"    (with 0 = decided and delivered per the outbox but not in the channel; with 2+ = posted twice; "
          f"{rm['in_flight']} still in flight at the snapshot, {rm['gave_up']} given up by the bot, "
          f"{rm['decided_twice']} decided twice, {rm['posted_undecided']} posted but never decided)")
    missing = c["acked_missing"]
    print(f"  {'acked but not recorded':<28}{len(missing):>8}{c['acked']:>11}{'':>16}   {'0':<22}{'PASS' if not missing else 'FAIL'}")
    s = r["recovery_summary"]
    finite = all(x["recovery_s"] != float("inf") for x in rec)
    print(f"\n  recovery (restart healthz 200 -> last incident pending at the kill is done), over {len(rec)} rounds:")
    print(f"    p50 {s['p50']:.2f}s  p99 {s['p99']:.2f}s  max {s['max']:.2f}s   target p99 <= {RECOVERY_TARGET_S:.0f}s   "
          f"{'PASS' if finite and s['p99'] <= RECOVERY_TARGET_S else 'FAIL'}")
    print(f"    restart to healthz: p50 {r['restart_summary']['p50']:.2f}s max {r['restart_summary']['max']:.2f}s")
    print(f"    {'round':>5} {'kill@':>6} {'restart':>8} {'sent<kill':>9} {'pending':>8} {'lost':>5} {'recovery':>9}  last done")
    for x in rec:
        never = f"  NEVER DONE: {', '.join(f'INC-{i}' for i in x['never_done'])}" if x["never_done"] else ""
        print(f"    {x['round']:>5} {x['kill_after_s']:>5.2f}s {x['restart_to_healthz_s']:>7.2f}s {x['sent_before_kill']:>9} "
              f"{x['pending_at_kill']:>8} {x['lost_to_kill']:>5} {x['recovery_s']:>8.2f}s  {x['last_done'] or '-'}{never}")
    for v in r["slack_spec_violations"]:
        print(f"  Slack spec violation: {v}")
    log = r["serve_log"]
    print(f"\n  serve logs ({log['processes']} processes): {log['error_lines']} ERROR lines, {log['warning_lines']} WARNING lines, "
          f"{log['tracebacks']} tracebacks")
    print_problems(r["problems"])


def anomalies(counts: dict[str, Any]) -> dict[int, list[str]]:
    """Incident id -> what is off about it (for the log excerpts)."""
    out: dict[int, list[str]] = defaultdict(list)
    for name in ("per_declare", "channels", "creates_ok", "cards", "announcements", "replies"):
        for i in counts[name]["zero"]:
            out[i].append(f"0 {name}")
        for i in counts[name]["two_or_more"]:
            out[i].append(f"{counts['per_incident'][i][name if name != 'per_declare' else 'incidents_for_declare']} {name}")
    for issue in counts["reminder_issues"]:
        m = INC_RE.search(issue)
        if m and "in flight" not in issue:
            out[int(m.group(1))].append(issue)
    for s in counts["acked_missing"]:
        out[int(s["incident_id"])].append("acked but not recorded")
    return out


def explain(counts: dict[str, Any], db: Snapshot, rounds: list[Round], sim: SlackSimulator, logs: list[Path],
            started: float, limit: int = 12) -> None:
    """What is off, incident by incident: in full for what happened twice (the exactly-once failures) and for the
    first few that never happened, then one line each. In full: what Slack recorded for it (times from the run's
    start and from the nearest kill), the state of its "is open in" reply in the outbox, and its serve-log lines."""
    bad = anomalies(counts)
    if not bad and not counts["orphan_channels"]:
        return
    twice = [(i, w) for i, w in sorted(bad.items()) if not all(x.startswith("0 ") for x in w)]
    never = [(i, w) for i, w in sorted(bad.items()) if all(x.startswith("0 ") for x in w)]
    print(f"\nWHAT IS OFF: {len(twice)} incidents with something twice (or undecided), {len(never)} with something missing")
    if counts["orphan_channels"]:
        print(f"  orphan channels (no incident with that title): {', '.join(counts['orphan_channels'][:20])}")
    with sim._lock:  # noqa: SLF001 - snapshot
        calls = list(sim.calls)
    hung_ids = {id(c) for c in counts["hung_call_list"]}

    def key_of(name: str) -> Key | None:
        m = CHANNEL_RE.search(name)
        return (int(m.group(1)), int(m.group(2))) if m else None

    def nearest_kill(at: float) -> str:
        r = min(rounds, key=lambda r: abs(at - r.killed_at), default=None)
        if r is None:
            return ""
        back = f", restart healthz {at - r.healthz_at:+.2f}s" if r.healthz_at else ""
        return f"[kill {r.index} {at - r.killed_at:+.2f}s{back}]"

    def reply_state(inc_id: int) -> str:
        row = db.reply_rows.get(inc_id)
        if row is None:
            return "no 'is open in' reply in the outbox"
        return (f"'is open in' reply = outbox #{row.id}: done_at={row.done_at}, attempts={row.attempts}, "
                f"last_error={row.last_error!r}; {db.outbox_unfinished_before.get(row.id, 0)} unfinished rows queued ahead")

    def in_full(inc_id: int, what: list[str]) -> None:
        p = counts["per_incident"].get(inc_id, {})
        reminders_off = any("reminder" in w for w in what)
        print(f"\n  INC-{inc_id} ({p.get('title')}): {'; '.join(what)}")
        if p:
            print(f"    provisioned={p['provisioned']} provision_attempts={p['provision_attempts']} "
                  f"error={p['provision_error']!r} channels={p['channel_names']}")
        print(f"    {reply_state(inc_id)}")
        chans = {(c.response.get("channel") or {}).get("id") for c in calls if c.method == "conversations.create"
                 and c.ok and key_of(str((c.response.get("channel") or {}).get("name", ""))) == p.get("key")}
        for c in calls:
            text = str(c.args.get("text", ""))
            mine = (c.args.get("channel") in chans or re.search(rf"\bINC-{inc_id}\b", text) is not None
                    or (c.method == "conversations.create" and key_of(str(c.args.get("name", ""))) == p.get("key")))
            if not mine or ("stakeholder update" in text and not reminders_off):
                continue
            print(f"    {c.at - started:8.2f}s {c.method:<22} ok={c.ok!s:<5} {'HUNG ' if id(c) in hung_ids else ''}"
                  f"{text[:60]!r} {nearest_kill(c.at)}")
        if p.get("announcements", 0) >= 2:
            first, last = p["announcement_ts"][0], p["announcement_ts"][-1]
            print(f"    announcements ts {', '.join(p['announcement_ts'])}: {p['stake_messages_between']} other messages were "
                  f"posted in {STAKEHOLDER_CHANNEL} between the first and the last")
            # The look-ups a retried announcement makes (conversations.history with its metadata) just before the
            # second post: did the page Slack returned reach back to the first announcement?
            second = next((c for c in calls if c.method == "chat.postMessage" and c.response.get("ts") == last), None)
            if second is not None:
                for h in calls:
                    if (h.method == "conversations.history" and h.args.get("channel") == STAKEHOLDER_CHANNEL
                            and second.at - 3 <= h.at <= second.at):
                        page = [m.get("ts") for m in h.response.get("messages", [])]
                        print(f"    {h.at - started:8.2f}s conversations.history {STAKEHOLDER_CHANNEL} limit={h.args.get('limit')} "
                              f"-> {len(page)} messages, oldest {min(page, default='-')}; the first announcement "
                              f"{'IS' if first in page else 'is NOT'} in it")
        needle = re.compile(rf"\bINC-{inc_id}\b")
        for path in logs:
            hits = [line for line in path.read_text(errors="replace").splitlines() if needle.search(line)]
            for line in hits[:8]:
                print(f"    [{path.name}] {line[:220]}")

    for inc_id, what in twice[:limit]:
        in_full(inc_id, what)
    for inc_id, what in never[:3]:
        in_full(inc_id, what)
    if len(never) > 3:
        print(f"\n  and {len(never) - 3} more with something missing:")
        for inc_id, what in never[3:40]:
            print(f"    INC-{inc_id}: {'; '.join(what)}; {reply_state(inc_id)}")
        if len(never) > 40:
            print(f"    ... {len(never) - 40} more")


def spec_violations(sim: SlackSimulator, rounds: list[Round], started: float) -> list[str]:
    """The calls the simulator refused as against Slack's spec, with when they came relative to the nearest kill: a
    request cut off by the SIGKILL arrives with a short body and its arguments missing."""
    with sim._lock:  # noqa: SLF001 - snapshot
        refused = [c for c in sim.calls if c.response.get("error") == "invalid_arguments"]
    out = []
    for c in refused:
        r = min(rounds, key=lambda r: abs(c.at - r.killed_at), default=None)
        near = f", {c.at - r.killed_at:+.3f}s from kill {r.index}" if r is not None else ""
        out.append(f"{c.at - started:.2f}s {c.method} {c.response.get('response_metadata', {}).get('messages')} "
                   f"args={sorted(c.args)}{near}")
    return out


def quiet_connection_resets(sim: SlackSimulator) -> None:
    """A SIGKILLed bot resets its kept-alive connections to the simulator, and a call held by a hang may still be
    answering when the simulator stops at the end: both expected here, so not a traceback on stderr (socketserver
    reports a handler's exception through handle_error, inside the except block)."""
    server = sim._httpd  # noqa: SLF001 - the bench's own simulator
    assert server is not None
    report = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        stopped = sim._httpd is None  # noqa: SLF001
        if not stopped and not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="sevbot-chaos-") as tmpdir, \
            scratch_database(args.database_url, Path(tmpdir), sqlite_name="sevbot-chaos.db", pg_prefix="sevbot_chaos_") as url:
        return _run(args, url, Path(tmpdir))


def _run(args: argparse.Namespace, database_url: str, tmp: Path) -> int:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    signing_secret = secrets.token_hex(16)
    sim = SlackSimulator(Workspace().seed_default(), bot_token=BOT_TOKEN, seed=args.seed).start()
    sim.jitter = (args.jitter_min_ms / 1000, args.jitter_max_ms / 1000)
    sim.hang_probability = args.hang_probability
    sim.hang_seconds = args.hang_seconds
    quiet_connection_resets(sim)
    config = tmp / "sevbot-chaos.toml"
    config.write_text(config_toml(), encoding="utf-8")
    bot = BotProcess(database_url, sim.api_url, tmp, signing_secret=signing_secret,
                     extra_env={"SEVBOT_CONFIG": str(config), "SEVBOT_UPDATE_INTERVAL": args.update_interval,
                                **({"SLACK_TIMEOUT": args.slack_timeout} if args.slack_timeout else {})})
    reader = create_engine(database_url, poolclass=NullPool)  # the bench's own view of the scratch DB
    log_dir = Path(args.keep_logs) if args.keep_logs else tmp / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    chaos: ChaosRun | None = None
    try:
        try:
            bot.migrate()
            bot.start(timeout=60)
        except RuntimeError as exc:
            print(f"BROKEN: {exc}", file=sys.stderr)
            return 1
        machine = machine_info()  # the code under test is what is checked out now, at the start
        driver = SlackDriver(sim, bot.url + "/slack/events", signing_secret, timeout=args.ack_timeout)
        chaos = ChaosRun(args, sim, bot, driver, log_dir)
        started = time.time()
        for index in range(1, args.rounds + 1):
            rnd = chaos.run_round(index)
            if chaos.restart_failure:
                problems.append(chaos.restart_failure)
                break
            lost = sum(1 for s in rnd.sent if s.status == 0)
            if args.drain_between_rounds:
                # One crash at a time: the next round starts once every declare so far is provisioned and told.
                deadline = time.monotonic() + args.timeout
                while not quiesced(reader, sim, outbox_too=False)[0] and time.monotonic() < deadline:
                    time.sleep(0.2)
            print(f"round {index:>2}: killed {rnd.kill_after_s:.2f}s in, back after {rnd.restart_s:.2f}s; "
                  f"{sum(1 for s in rnd.sent if s.incident_id)} acked, {lost} died with the process; "
                  f"{rnd.ended_at - rnd.started_at:.1f}s", flush=True)
        rounds_done = time.time()
        if problems:  # the bot could not be restarted: nothing to count
            chaos.save_log()
            print_problems(problems)
            return 1
        problems.extend(chaos.crashes)  # reported with the counts below; the run exits 1

        # Let everything finish: every incident provisioned and told, nothing left in the outbox.
        deadline = time.monotonic() + args.timeout
        while True:
            ok, state = quiesced(reader, sim)
            if ok or time.monotonic() > deadline or not bot.alive():
                break
            time.sleep(0.5)
        settled = time.time()
        if not bot.alive():
            problems.append(f"sevbot serve exited {bot.proc.returncode} after the rounds:\n{bot.log_tail()}")  # type: ignore[union-attr]
        sent = [s for r in chaos.rounds for s in r.sent]
        # Read in this order so that reminders firing meanwhile cannot blur the count: the database (what was decided
        # and, per the outbox, delivered), then Slack, then the database again (so a post of a decision made
        # meanwhile is not taken for a post nobody decided).
        db = read_db(reader)
        counts = count_everything(sim, db, lambda: read_db(reader), sent)
        chaos.save_log()
        rec = recovery(chaos.rounds, sent, db.incidents, sim)
        rec_values = [x["recovery_s"] for x in rec]
        log_counts = {"processes": len(chaos.logs()), "error_lines": 0, "warning_lines": 0, "tracebacks": 0}
        for path in chaos.logs():
            body = path.read_text(errors="replace")
            log_counts["error_lines"] += len(re.findall(r"\bERROR\b", body))
            log_counts["warning_lines"] += len(re.findall(r"\bWARNING\b", body))
            log_counts["tracebacks"] += body.count("Traceback (most recent call last)")
        violations = spec_violations(sim, chaos.rounds, started)

        results: dict[str, Any] = {
            "machine": machine,
            "backend": backend,
            "seed": args.seed,
            "rounds": len(chaos.rounds),
            "declares_per_round": args.declares_per_round,
            "concurrency": args.concurrency,
            "jitter_ms": [args.jitter_min_ms, args.jitter_max_ms],
            "hang_probability": args.hang_probability,
            "hang_seconds": args.hang_seconds,
            "update_interval": args.update_interval,
            "drain_between_rounds": args.drain_between_rounds,
            "declares": {"sent": len(sent), "acked": sum(1 for s in sent if s.incident_id is not None),
                         "lost_to_kill": sum(1 for s in sent if s.status == 0),
                         "other": sum(1 for s in sent if s.status != 0 and s.incident_id is None),
                         "other_examples": [asdict(s) for s in sent if s.status != 0 and s.incident_id is None][:5]},
            "wall_s": {"rounds": rounds_done - started, "settle": settled - rounds_done},
            "quiesced": ok,
            "settle_state": state,
            "counts": counts,
            "recovery": rec,
            "recovery_summary": summary(rec_values),  # a round whose pending work never finished counts as inf
            "restart_summary": summary([r.restart_s for r in chaos.rounds]),
            "serve_log": log_counts,
            "slack_spec_violations": violations,
            "problems": problems,
        }
        print_report(results)
        explain(counts, db, chaos.rounds, sim, chaos.logs(), started)
        if args.json:
            out = dict(results)
            out["counts"] = {k: v for k, v in counts.items() if k not in ("hung_call_list", "per_incident")}
            out["counts"]["hung_calls"] = dict(counts["hung_calls"])
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
            print(f"\nresults written to {args.json}")
        if args.keep_logs:
            print(f"serve logs kept in {log_dir}")
        return 1 if problems else 0
    finally:
        bot.stop()
        reader.dispose()
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--declares-per-round", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill moments and the simulator's jitter and hangs")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait, after the rounds, for everything to be provisioned and delivered")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep-logs", metavar="DIR", help="keep each serve process's log here (default: a temp dir)")
    parser.add_argument("--kill-min", type=float, default=0.2, help="earliest kill, seconds into a round")
    parser.add_argument("--kill-max", type=float, default=3.0, help="latest kill, seconds into a round")
    parser.add_argument("--jitter-min-ms", type=float, default=20.0)
    parser.add_argument("--jitter-max-ms", type=float, default=200.0)
    parser.add_argument("--hang-probability", type=float, default=0.01)
    parser.add_argument("--hang-seconds", type=float, default=11.0)
    parser.add_argument("--update-interval", default="60s",
                        help="SEVBOT_UPDATE_INTERVAL for the bot (5s on ~1000 incidents is ~200 reminders a second: a storm "
                             "that buries the declares' own Slack effects behind it)")
    parser.add_argument("--slack-timeout", default=None,
                        help="SLACK_TIMEOUT for the bot: what a hung call costs before it is looked for (default: the bot's own, 3 s)")
    parser.add_argument("--drain-between-rounds", action="store_true",
                        help="start a round only once every earlier declare is provisioned and told 'is open in' (up to "
                             "--timeout), so each recovery is from one crash, not from a pile-up of kills")
    parser.add_argument("--ack-timeout", type=float, default=30.0, help="seconds the bench waits for a slash command's answer")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(1)
