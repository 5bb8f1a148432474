"""The paging seam. The scheduler issue fills it with real pages and escalation; until then it records intent.

It deliberately does not pretend: the timeline says a page was requested and that no pager is configured.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.timeline import record


class Pager(Protocol):
    def request_page(self, session: Session, incident_id: int, *, reason: str, actor: str) -> str:
        """Called inside the transaction of the change that calls for a page; returns a line for the channel."""
        ...


class RecordOnlyPager:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def request_page(self, session: Session, incident_id: int, *, reason: str, actor: str) -> str:
        record(session, incident_id, kind="page_requested", actor=actor, at=self.clock.now(),
               summary=f"Paging on-call requested ({reason}); no pager is configured yet, so nobody was paged automatically",
               data={"reason": reason, "paged": False})
        return ":pager: This severity calls for paging on-call. Automatic paging is not set up yet: page them by hand."
