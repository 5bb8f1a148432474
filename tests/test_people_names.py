"""The names snapshot: each person asked of Slack once, a bounded number of calls, Slack failures never lose what
was taken and never fail the caller (SQLite and PostgreSQL)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import PersonName
from bot.people.lookup import NameBook, NameRefresher
from bot.slack.gateway import SlackError, UserInfo
from tests.harness import wait_for

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


@dataclass
class Clock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


class Directory:
    """users.info as the gateway answers it, counting the calls; `down` makes every call fail like a Slack outage."""

    def __init__(self, people: dict[str, UserInfo]) -> None:
        self.people, self.calls, self.down = people, [], False

    def user(self, user_id: str) -> Any:
        self.calls.append(user_id)
        if self.down:
            raise SlackError("users.info", "http_500", status=500)
        return self.people.get(user_id)


def _person(user_id: str, display: str, real: str = "", handle: str = "h") -> UserInfo:
    return UserInfo(id=user_id, name=handle, deleted=False, is_bot=False, display_name=display, real_name=real)


def _rows(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.unit_of_work() as session:
        return {r.user_id: (r.display_name, r.real_name) for r in session.scalars(select(PersonName))}


def test_names_are_taken_once_within_a_budget_and_survive_slack_failing(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        directory = Directory({"U01": _person("U01", "Lee Park", "Lee P."), "U02": _person("U02", "", "Sam Okafor"),
                               "U03": _person("U03", "", "", handle="erin"), "U04": _person("U04", "Ana")})
        book = NameBook(db, directory, Clock())
        taken, complete = book.take(["U01", "U02", "sevbot", "S0ONCALL", "U03", "U04"], budget=3)
        assert directory.calls == ["U01", "U02", "U03"] and not complete, "at most the budget; ids only"
        assert taken == {"U01": "Lee Park", "U02": "Sam Okafor", "U03": "erin"}, "display name, else real name, else handle"
        assert _rows(db)["U01"] == ("Lee Park", "Lee P.")
        directory.calls.clear()
        assert book.take(["U01", "U02", "U03", "U04"], budget=3) == ({"U04": "Ana"}, True)
        assert directory.calls == ["U04"], "nobody is asked twice"
        # A fresh process (nothing in memory) reads the snapshot, and a person who left is still named.
        directory.people.clear()
        directory.calls.clear()
        assert NameBook(db, directory, Clock()).names(["U01", "U02", "U03", "U04"]) == {
            "U01": "Lee Park", "U02": "Sam Okafor", "U03": "erin", "U04": "Ana"}
        assert directory.calls == []
        # Slack down: the round stops at the first failure, the caller gets what the snapshot has.
        directory.down = True
        assert NameBook(db, directory, Clock()).names(["U01", "U09", "U08"]) == {"U01": "Lee Park"}
        assert directory.calls == ["U08"]
    finally:
        db.dispose()


def test_changes_arriving_during_a_refresh_coalesce_into_the_next(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    try:
        queued: list[Any] = []
        refresher = NameRefresher(db, NameBook(db, Directory({}), Clock()), lambda work, *args: queued.append((work, args)),
                                  settle=0)
        refresher.changed([1, None])
        refresher.changed([2])
        refresher.changed([None])
        assert len(queued) == 1, "one run at a time; later changes join it"
        ran: list[int] = []
        refresher.refresh = lambda incident_id: ran.append(incident_id) or {}  # type: ignore[method-assign]
        work, args = queued.pop()
        work(*args)
        assert ran == [1, 2]
        refresher.changed([3])
        assert len(queued) == 1, "idle again: the next change starts a run"
    finally:
        db.dispose()


def test_a_burst_of_changes_waits_to_settle_and_becomes_one_run(database_url: str) -> None:
    """The commits of a declare's provisioning come in a burst: one read of each incident after it settles."""
    upgrade(database_url)
    db = Database(database_url)
    try:
        queued: list[Any] = []
        refresher = NameRefresher(db, NameBook(db, Directory({}), Clock()), lambda work, *args: queued.append((work, args)),
                                  settle=0.3)
        for incident_id in (1, 2, 1, 3, 2):
            refresher.changed([incident_id])
        assert queued == [], "nothing runs before the burst settles"
        wait_for(lambda: len(queued) == 1, timeout=3, what="the settled run")
        ran: list[int] = []
        refresher.refresh = lambda incident_id: ran.append(incident_id) or {}  # type: ignore[method-assign]
        work, args = queued.pop()
        work(*args)
        assert ran == [1, 2, 3]
    finally:
        db.dispose()
