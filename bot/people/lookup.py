"""Taking names from Slack into the snapshot: once per person, after the commit that brought them in (never on the
request path before Slack's ack), and at export time for anyone still missing, with a bounded number of calls.

Slack failing never fails anything here: a name not taken now is taken on the next change, or the export shows
the snapshot's name, or else the raw id.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from bot.clock import Clock
from bot.db.engine import Database
from bot.people.collect import people_of_incident
from bot.people.snapshot import is_user_id, known_names, save_name

log = logging.getLogger(__name__)

# Slack calls one refresh may make (users.info is Tier 4, ~100/min; an incident brings in a handful of people).
REFRESH_BUDGET = 20
# Slack calls an export may make for people the snapshot still lacks (the export runs after the ack, off-thread).
EXPORT_BUDGET = 20
# Incidents whose read position in the timeline we remember, least recently refreshed forgotten first.
TRACKED_INCIDENTS = 1000
KNOWN_IDS = 100_000
# A refresh waits this long after the first change so the commits of a declare's provisioning (and of a burst of
# declares) coalesce into one read each, off the moments the acks need the CPU.
SETTLE_SECONDS = 0.5


class Directory(Protocol):
    """`users.info` as the gateway answers it: an object with `shown_name` and `real_name`, or None."""

    def user(self, user_id: str) -> Any: ...


class NameBook:
    def __init__(self, db: Database, directory: Directory, clock: Clock) -> None:
        self.db, self.directory, self.clock = db, directory, clock
        self._known: set[str] = set()  # ids already in the snapshot: no query for them
        self._lock = threading.Lock()

    def take(self, user_ids: Iterable[str], budget: int) -> tuple[dict[str, str], bool]:
        """Ask Slack for the people the snapshot lacks (at most `budget` calls) and keep their names; returns the names
        taken, and whether everyone was asked. A Slack failure stops the round: what was taken is kept."""
        with self._lock:
            wanted = {u for u in user_ids if is_user_id(u)} - self._known
        if not wanted:
            return {}, True
        with self.db.transaction() as connection:
            have = known_names(connection, wanted)
        self._note_known(have)
        taken: dict[str, str] = {}
        missing = sorted(wanted - set(have))
        asked = 0
        for user_id in missing[:budget]:
            try:
                info = self.directory.user(user_id)
            except Exception as exc:  # Slack down or refusing: the export falls back to the snapshot or the id
                log.info("could not look up %s's name (%s); trying again later", user_id, exc)
                break
            asked += 1
            if info is None:  # no such user any more: nothing to take
                continue
            name = str(info.shown_name)
            with self.db.transaction() as connection:
                save_name(connection, user_id, name, str(info.real_name or "") or None, self.clock.now())
            taken[user_id] = name
        self._note_known(taken)
        return taken, asked == len(missing)

    def names(self, user_ids: Iterable[str], *, budget: int = EXPORT_BUDGET) -> dict[str, str]:
        """The export's names: the snapshot, filled in for anyone missing (bounded); missing ids are left out."""
        ids = {u for u in user_ids if is_user_id(u)}
        with self.db.transaction() as connection:
            have = known_names(connection, ids)
        if budget > 0 and ids - set(have):
            have.update(self.take(ids - set(have), budget)[0])
        return have

    def _note_known(self, names: dict[str, str]) -> None:
        with self._lock:
            if len(self._known) > KNOWN_IDS:
                self._known.clear()
            self._known.update(names)


class NameRefresher:
    """After every commit that changed incidents: take the names of the people they now mention. Changes that
    arrive while a refresh runs coalesce into the next one; each incident's timeline is read from where the last
    refresh stopped."""

    def __init__(self, db: Database, book: NameBook, run_later: Callable[..., None], budget: int = REFRESH_BUDGET,
                 settle: float = SETTLE_SECONDS) -> None:
        self.db, self.book, self.run_later, self.budget, self.settle = db, book, run_later, budget, settle
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._running = False
        self._read_to: OrderedDict[int, int] = OrderedDict()

    def changed(self, incidents: Iterable[int | None]) -> None:
        with self._lock:
            self._pending.update(i for i in incidents if i is not None)
            if self._running or not self._pending:
                return
            self._running = True
        if self.settle <= 0:
            self.run_later(self._run)
            return
        timer = threading.Timer(self.settle, self.run_later, args=(self._run,))
        timer.daemon = True
        timer.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    return
                incidents, self._pending = sorted(self._pending), set()
            for incident_id in incidents:
                try:
                    self.refresh(incident_id)
                except Exception:  # the database may be away for a moment: the next change tries again
                    log.exception("taking the names of INC-%s's people failed", incident_id)

    def refresh(self, incident_id: int) -> dict[str, str]:
        """Take the names of the incident's people not in the snapshot yet; returns the names taken."""
        with self.db.transaction() as connection:
            ids, read_to = people_of_incident(connection, incident_id, events_after=self._read_to.get(incident_id, 0))
        taken, complete = self.book.take(ids, self.budget)
        with self._lock:
            if complete:  # else read these events again next time: someone in them has no name yet
                self._read_to[incident_id] = read_to
                self._read_to.move_to_end(incident_id)
            while len(self._read_to) > TRACKED_INCIDENTS:
                self._read_to.popitem(last=False)
        return taken
