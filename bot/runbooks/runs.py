"""Running a runbook on an incident: start (snapshot + post), mark steps, and keep the message(s) in step.

Step clicks are decided by one conditional UPDATE (`state = 'pending'`), so two clicks at the same instant make one
change and the other is told who was first. The message is re-rendered from the database and updated in place.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.incident import human_id
from bot.db.models import Incident, RunbookRun, RunbookStepState
from bot.domain.text import escape_mrkdwn, truncate
from bot.core.outbox import enqueue
from bot.runbooks.model import Runbook
from bot.core.actions import StepButton
from bot.core.deps import Deps
from bot.db.engine import Database
from bot.render import Renderer
from bot.runbooks.registry import RunbookRegistry
from bot.runbooks.watch import arm_runbook_check
from bot.slack.gateway import CLOCK_SKEW, SlackGateway
from bot.core.timeline import record
from bot.core.incident import locked_incident
from bot.core.errors import BadInput, Refused

# A part's ts while it is being posted (see RunbookMessages._post_part), and the metadata its message carries.
POSTING = "posting"
RUNBOOK_METADATA = "sevbot_runbook"
STEPS_PER_MESSAGE = 15  # 2 blocks a step + header and progress: well inside Block Kit's 50 blocks
STATES = {"done": "Done", "skip": "Skipped", "failed": "Failed"}
STATE_WORDS = {"done": "done", "skipped": "skipped", "failed": "failed"}
ACTION_STATE = {"done": "done", "skip": "skipped", "failed": "failed"}


@dataclass(frozen=True)
class StepView:
    position: int
    title: str
    detail: str
    expected: str | None
    escalate_on_failure: bool
    state: str
    actor: str | None
    at: datetime | None
    note: str | None


@dataclass(frozen=True)
class RunView:
    id: int
    incident_id: int
    title: str
    name: str
    started_by: str
    started_at: datetime
    completed_at: datetime | None
    steps: tuple[StepView, ...]
    message_ts: tuple[str | None, ...]
    message_hashes: tuple[str | None, ...]
    version: int
    synced_version: int
    channel_id: str | None

    @property
    def parts(self) -> int:
        return max(1, -(-len(self.steps) // STEPS_PER_MESSAGE))

    def counts(self) -> dict[str, int]:
        counts = {"pending": 0, "done": 0, "skipped": 0, "failed": 0}
        for step in self.steps:
            counts[step.state] += 1
        return counts


def load_run(session: Any, run_id: int) -> RunView:
    run = session.get(RunbookRun, run_id)
    if run is None:
        raise BadInput("That runbook run does not exist; nothing changed.")
    runbook = Runbook.from_snapshot(run.snapshot)
    states = {s.position: s for s in session.scalars(select(RunbookStepState).where(RunbookStepState.run_id == run_id))}
    channel = session.scalar(select(Incident.channel_id).where(Incident.id == run.incident_id))
    steps = tuple(
        StepView(position=i, title=step.title, detail=step.detail, expected=step.expected, escalate_on_failure=step.escalate_on_failure,
                 state=states[i].state, actor=states[i].actor, at=states[i].at, note=states[i].note)
        for i, step in enumerate(runbook.steps, start=1)
    )
    return RunView(run.id, run.incident_id, run.title, run.name, run.started_by, run.started_at, run.completed_at, steps,
                   tuple(run.message_ts or ()), tuple(run.message_hashes or ()), run.version, run.synced_version, channel)


def start_runbook(deps: Deps, runbooks: RunbookRegistry, incident_id: int, name: str, actor: str) -> str:
    runbook = runbooks.get(name)
    if runbook is None:
        names = ", ".join(f"`{n}`" for n in runbooks.runbooks) or "none"
        raise BadInput(f"There is no runbook `{escape_mrkdwn(truncate(name, 60))}`. Runbooks: {names}.")
    now = deps.clock.now()
    try:
        with deps.db.unit_of_work() as session:
            incident = locked_incident(session, incident_id)
            live = session.scalar(select(RunbookRun.id).where(
                RunbookRun.incident_id == incident_id, RunbookRun.name == name, RunbookRun.completed_at.is_(None)))
            if live is not None:
                raise BadInput(f"*{escape_mrkdwn(runbook.title)}* is already running on {human_id(incident_id)}; its checklist is in the channel.")
            run = RunbookRun(incident_id=incident_id, name=runbook.name, title=runbook.title, snapshot=runbook.snapshot(),
                             started_by=actor, started_at=now, message_ts=[], message_hashes=[], version=1, synced_version=0)
            session.add(run)
            session.flush()
            for position in range(1, len(runbook.steps) + 1):
                session.add(RunbookStepState(run_id=run.id, position=position, state="pending"))
            arm_runbook_check(deps, session, run)
            record(session, incident_id, kind="runbook_started", actor=actor, at=now,
                   summary=f"Runbook started: {escape_mrkdwn(runbook.title)} ({len(runbook.steps)} steps)",
                   data={"run_id": run.id, "name": runbook.name})
            if incident.channel_id:
                enqueue(session, deps.clock, kind="runbook_sync", incident_id=incident_id, payload={"run_id": run.id},
                        dedupe_key=f"runbook:{run.id}:1")
    except IntegrityError:
        raise BadInput(f"*{escape_mrkdwn(runbook.title)}* was just started by someone else; its checklist is in the channel.") from None
    return f":clipboard: Started *{escape_mrkdwn(runbook.title)}*: the checklist is being posted in the channel."


def mark_step(deps: Deps, run_id: int, position: int, action: str, actor: str, *, channel_id: str) -> str:
    """Done / Skip / Failed on one step; refuses a click for another channel, an unknown step, or a decided step."""
    state = ACTION_STATE.get(action)
    if state is None:
        raise BadInput("That button is not one sevbot made; nothing changed.")
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        run = session.get(RunbookRun, run_id)
        incident_channel = session.scalar(select(Incident.channel_id).where(Incident.id == run.incident_id)) if run else None
        if run is None or incident_channel != channel_id:
            raise BadInput("That checklist belongs to another incident; nothing changed.")
        if not 1 <= position <= len(run.snapshot["steps"]):
            raise BadInput("That step does not exist; nothing changed.")
        changed = session.execute(
            update(RunbookStepState)
            .where(RunbookStepState.run_id == run_id, RunbookStepState.position == position, RunbookStepState.state == "pending")
            .values(state=state, actor=actor, at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            current = session.scalar(select(RunbookStepState).where(
                RunbookStepState.run_id == run_id, RunbookStepState.position == position))
            assert current is not None
            when = f" at {current.at:%H:%M} UTC" if current.at else ""
            raise Refused(f"Step {position} was already marked {STATE_WORDS[current.state]} by <@{current.actor}>{when}; nothing changed.")
        step = run.snapshot["steps"][position - 1]
        record(session, run.incident_id, kind=f"runbook_step_{state}", actor=actor, at=now,
               summary=f"{escape_mrkdwn(run.title)}, step {position} {state}: {escape_mrkdwn(step['title'])}",
               data={"run_id": run_id, "position": position, "state": state})
        pending = session.scalar(select(func.count()).select_from(RunbookStepState).where(
            RunbookStepState.run_id == run_id, RunbookStepState.state == "pending"))
        run.version += 1
        enqueue(session, deps.clock, kind="runbook_sync", incident_id=run.incident_id, payload={"run_id": run_id},
                dedupe_key=f"runbook:{run_id}:{run.version}")
        if state == "failed":
            _escalation_prompt(deps, session, run, position, channel_id)
        if pending == 0 and run.completed_at is None:
            run.completed_at = now
            counts = dict(session.execute(select(RunbookStepState.state, func.count()).where(
                RunbookStepState.run_id == run_id).group_by(RunbookStepState.state)).all())
            minutes = max(1, round((now - run.started_at).total_seconds() / 60))
            summary = (f"Runbook complete: {escape_mrkdwn(run.title)}: {counts.get('done', 0)} done, "
                       f"{counts.get('skipped', 0)} skipped, {counts.get('failed', 0)} failed, in {minutes} min")
            record(session, run.incident_id, kind="runbook_completed", actor=actor, at=now, summary=summary,
                   data={"run_id": run_id, **counts})
            enqueue(session, deps.clock, kind="post", incident_id=run.incident_id, dedupe_key=f"runbook:{run_id}:completed",
                    payload={"channel": channel_id, "text": f":white_check_mark: {summary}."})
    return f"Step {position} marked {state}."


def add_failure_note(deps: Deps, run_id: int, position: int, note: str, actor: str) -> None:
    """The note given with a failed step: kept on the step, on the timeline, and under the escalation prompt."""
    note = note.strip()
    if not note:
        return
    now = deps.clock.now()
    with deps.db.unit_of_work() as session:
        step = session.scalar(select(RunbookStepState).where(RunbookStepState.run_id == run_id, RunbookStepState.position == position))
        run = session.get(RunbookRun, run_id)
        if step is None or run is None or step.state != "failed":
            raise BadInput("That step is not marked failed; nothing changed.")
        step.note = note[:2000]
        run.version += 1
        record(session, run.incident_id, kind="runbook_step_note", actor=actor, at=now,
               summary=f"{escape_mrkdwn(run.title)}, step {position} failed: {escape_mrkdwn(note[:2000])}",
               data={"run_id": run_id, "position": position, "note": note[:2000]})
        enqueue(session, deps.clock, kind="runbook_sync", incident_id=run.incident_id, payload={"run_id": run_id},
                dedupe_key=f"runbook:{run_id}:{run.version}")
        channel = session.scalar(select(Incident.channel_id).where(Incident.id == run.incident_id))
        if channel:
            enqueue(session, deps.clock, kind="post", incident_id=run.incident_id, dedupe_key=f"runbook:{run_id}:note:{position}:{run.version}",
                    payload={"channel": channel, "text": f":memo: <@{actor}> on step {position} of {escape_mrkdwn(run.title)}: {escape_mrkdwn(note[:2000])}"})


def _escalation_prompt(deps: Deps, session: Any, run: RunbookRun, position: int, channel_id: str) -> None:
    """The seeds' escalation context: what was tried (steps done), what failed, and the note when one is given."""
    steps = run.snapshot["steps"]
    states = {s.position: s for s in session.scalars(select(RunbookStepState).where(RunbookStepState.run_id == run.id))}
    tried = [f"{i}. {escape_mrkdwn(steps[i - 1]['title'])}" for i in sorted(states) if states[i].state == "done"]
    failed = steps[position - 1]
    urgent = " This step says: escalate when it fails." if failed.get("escalate_on_failure") else ""
    text = (
        f":warning: *Step {position} failed: escalate to L2?*{urgent}\n"
        f"*Runbook:* {escape_mrkdwn(run.title)}\n"
        f"*What we tried:* {'; '.join(tried) if tried else 'no step done yet'}\n"
        f"*What failed:* {escape_mrkdwn(failed['title'])}"
        + (f"\n*Expected:* {escape_mrkdwn(failed['expected'])}" if failed.get("expected") else "")
        + "\n_Add what you observed and what you suspect in the note; page L2 with this context._"
    )
    enqueue(session, deps.clock, kind="post", incident_id=run.incident_id, dedupe_key=f"runbook:{run.id}:failed:{position}",
            payload={"channel": channel_id, "text": text})
    record(session, run.incident_id, kind="escalation_suggested", actor="sevbot", at=deps.clock.now(),
           summary=f"Escalation suggested: step {position} of {escape_mrkdwn(run.title)} failed",
           data={"run_id": run.id, "position": position, "steps_done": [i for i in sorted(states) if states[i].state == "done"]})


class RunbookMessages:
    """Posts and updates a run's message(s). Parts whose content did not change are not touched."""

    def __init__(self, db: Database, gateway: SlackGateway, renderer: Renderer) -> None:
        self.db = db
        self.gateway = gateway
        self.renderer = renderer
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)

    def sync(self, run_id: int) -> dict[str, Any]:
        with self._locks[run_id]:
            for _ in range(5):
                with self.db.unit_of_work() as session:
                    view = load_run(session, run_id)
                if view.channel_id is None:
                    return {"skipped": "no channel yet"}
                if view.synced_version >= view.version and all(_posted(view.message_ts, i) for i in range(view.parts)):
                    return {"version": view.synced_version}
                ts = list(view.message_ts) + [None] * (view.parts - len(view.message_ts))
                hashes = list(view.message_hashes) + [None] * (view.parts - len(view.message_hashes))
                for part in range(view.parts):
                    blocks = self.renderer.blocks("runbook_part.json.j2", **part_context(view, part))
                    digest = hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()[:16]
                    text = f"Runbook: {view.title} ({view.counts()['pending']} steps left)"
                    if not _posted(ts, part):
                        ts[part], adopted = self._post_part(view, part, text, blocks, ts, hashes)
                        hashes[part] = None if adopted else digest  # an adopted part shows an older state: updated below
                        self._store(run_id, ts, hashes)  # stored at once: a repeat must never post the part again
                    if hashes[part] != digest:
                        self.gateway.update_message(view.channel_id, ts[part], text, blocks)
                        hashes[part] = digest
                self._store(run_id, ts, hashes)
                with self.db.unit_of_work() as session:
                    session.execute(update(RunbookRun).where(RunbookRun.id == run_id, RunbookRun.synced_version < view.version)
                                    .values(synced_version=view.version).execution_options(synchronize_session=False))
            return {"version": view.version}

    def _post_part(self, view: RunView, part: int, text: str, blocks: list[dict[str, Any]], ts: list[str | None],
                   hashes: list[str | None]) -> tuple[str, bool]:
        """Post one part, marked first: a sync that finds the mark died between Slack taking the part and storing its
        ts, so it looks for the part by its metadata before posting. (ts, adopted)"""
        look = ts[part] == POSTING
        if not look:
            ts[part] = POSTING
            self._store(view.id, ts, hashes)
        assert view.channel_id is not None
        metadata = {"event_type": RUNBOOK_METADATA, "event_payload": {"run_part": f"{view.id}:{part}"}}
        _, posted, adopted = self.gateway.post_once(view.channel_id, text, blocks, metadata=metadata, look=look,
                                                    since=view.started_at.timestamp() - CLOCK_SKEW)
        return posted, adopted

    def _store(self, run_id: int, ts: list[str | None], hashes: list[str | None]) -> None:
        with self.db.unit_of_work() as session:
            session.execute(update(RunbookRun).where(RunbookRun.id == run_id)
                            .values(message_ts=list(ts), message_hashes=list(hashes)).execution_options(synchronize_session=False))


def _posted(ts: Sequence[str | None], part: int) -> bool:
    return part < len(ts) and ts[part] not in (None, POSTING)


def part_context(view: RunView, part: int) -> dict[str, Any]:
    first = part * STEPS_PER_MESSAGE
    counts = view.counts()
    decided = len(view.steps) - counts["pending"]
    return {
        "run_id": view.id,
        "title": view.title,
        "part": part + 1,
        "parts": view.parts,
        "progress": f"{decided}/{len(view.steps)} done" + (f" · {counts['skipped']} skipped" if counts["skipped"] else "")
                    + (f" · {counts['failed']} failed" if counts["failed"] else ""),
        "complete": view.completed_at is not None,
        "started_by": view.started_by,
        "steps": [
            {"position": s.position, "value": StepButton(view.id, s.position).encode(), "title": s.title, "detail": s.detail, "expected": s.expected, "state": s.state,
             "actor": s.actor, "at": s.at, "note": s.note, "escalate": s.escalate_on_failure}
            for s in view.steps[first:first + STEPS_PER_MESSAGE]
        ],
    }
