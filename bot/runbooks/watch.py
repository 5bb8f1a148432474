"""The 15-minute rule: a runbook running this long with the incident still investigating prompts the IC to escalate."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.incident import human_id
from bot.db.models import Incident, RunbookRun, Timer
from bot.domain.text import escape_mrkdwn
from bot.ids import ActionId
from bot.core.outbox import enqueue
from bot.scheduler import timers
from bot.core.actions import ForIncident
from bot.core.deps import Deps
from bot.core.timeline import record
from bot.core.incident import current_roles
from bot.core.blocks import prompt_blocks


def arm_runbook_check(deps: Deps, session: Session, run: RunbookRun) -> None:
    timers.arm(session, kind=timers.RUNBOOK_CHECK, incident_id=run.incident_id, ref_id=run.id,
               due_at=run.started_at + deps.timing.runbook_escalation())


def runbook_check_due(deps: Deps, session: Session, timer: Timer) -> None:
    now = deps.clock.now()
    timer.done_at = now
    run = session.get(RunbookRun, timer.ref_id)
    incident = session.get_one(Incident, timer.incident_id)
    if run is None or run.completed_at is not None or incident.status != deps.config.open_status or not incident.channel_id:
        return
    ic = current_roles(session, incident.id).get("ic", incident.declared_by)
    minutes = round((now - run.started_at).total_seconds() / 60)
    text = (f":hourglass: <@{ic}> *{escape_mrkdwn(run.title)}* has run {minutes} min and {human_id(incident.id)} is still "
            f"{incident.status}. The 15-minute rule says: escalate, with what you tried, observed and suspect.")
    record(session, incident.id, kind="escalation_prompted", actor="sevbot", at=now,
           summary=f"15-minute rule: {escape_mrkdwn(run.title)} ran {minutes} min while still {incident.status}", data={"run_id": run.id})
    enqueue(session, deps.clock, kind="post", incident_id=incident.id, dedupe_key=f"runbook:{run.id}:15min",
            payload={"channel": incident.channel_id, "text": text, "blocks": prompt_blocks(
                text, block_id=f"escalate{incident.id}", action_id=ActionId.OPEN_ESCALATE, label="Escalate", value=ForIncident(incident.id).encode(),
                style="danger")})
