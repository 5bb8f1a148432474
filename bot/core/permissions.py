"""Permission checks from the policy file, with refusals recorded on the timeline."""
from __future__ import annotations

from collections.abc import Iterable

from bot.core.deps import Deps
from bot.core.errors import Refused
from bot.core.incident import current_roles
from bot.core.timeline import record
from bot.domain.permissions import allowed, describe


def require_permission(deps: Deps, incident_id: int, actor: str, rule: Iterable[str], action: str) -> None:
    """Raise Refused (and record the refusal) unless the config lets `actor` do `action`.

    User group members come from the gateway's cache, filled at start for every group the policy names, so this
    check makes no Slack call on the request path."""
    rule = tuple(rule)
    with deps.db.unit_of_work() as session:
        ic = current_roles(session, incident_id).get("ic")
    if allowed(rule, actor, ic, deps.people.usergroup_members):
        return
    reason = f"Only {describe(rule)} may {action} on this incident."
    with deps.db.unit_of_work() as session:
        record(session, incident_id, kind="refused", actor=actor, at=deps.clock.now(),
               summary=f"Refused: <@{actor}> tried to {action}", data={"action": action, "rule": list(rule)})
    raise Refused(reason)
