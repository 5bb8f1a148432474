"""What the clocks do when an incident opens: rows of the declare's own insert."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from bot.core.deps import Deps
from bot.core.incident import NewIncident
from bot.paging.ladder import paging_on_declare
from bot.updates.cadence import first_reminder


def on_declared(deps: Deps, incident: NewIncident) -> list[tuple[Table, dict[str, Any]]]:
    """Start the stakeholder-update cadence; page on-call when the severity says so."""
    rows = [first_reminder(deps, incident)]
    paging = paging_on_declare(deps, incident)
    if paging is not None:
        rows.append(paging)
    return rows
