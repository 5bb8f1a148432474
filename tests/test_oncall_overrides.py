"""Overrides in the database on both backends: added once per idempotency key, removed ones stop applying,
and the newest wins in the final rota."""
from __future__ import annotations

from sqlalchemy import func, select

import pytest

from bot.core.errors import BadInput
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import OncallOverride
from bot.oncall.overrides import active_overrides, add_override, remove_override
from bot.oncall.lookup import final_rota, on_call_now, upcoming_handoff
from bot.oncall.rotation import Shift, on_call_at
from bot.settings import load_settings
from tests.oncall_helpers import layer, schedule, utc

SCHEDULE = schedule("UTC", layer(users=("U0LEE",), start="2027-01-01", handoff="00:00", rotation="weekly"))


def test_overrides_add_once_remove_and_newest_wins(database_url: str) -> None:
    url = load_settings(database_url=database_url).database_url
    upgrade(url)
    db = Database(url)
    try:
        with db.unit_of_work() as session:
            first = add_override(session, schedule="pay", user_id="U0SAM", starts_at=utc(2027, 1, 5, 10),
                                 ends_at=utc(2027, 1, 5, 14), created_by="U0LEE", now=utc(2027, 1, 1),
                                 replaced_user_id="U0LEE", idempotency_key="cmd-1")
            session.flush()
            again = add_override(session, schedule="pay", user_id="U0SAM", starts_at=utc(2027, 1, 5, 10),
                                 ends_at=utc(2027, 1, 5, 14), created_by="U0LEE", now=utc(2027, 1, 1, 0, 1),
                                 idempotency_key="cmd-1")
            assert again.id == first.id
            newer = add_override(session, schedule="pay", user_id="U0KIM", starts_at=utc(2027, 1, 5, 12),
                                 ends_at=utc(2027, 1, 5, 13), created_by="U0KIM", now=utc(2027, 1, 2))
            add_override(session, schedule="other", user_id="U0KIM", starts_at=utc(2027, 1, 5),
                         ends_at=utc(2027, 1, 6), created_by="U0KIM", now=utc(2027, 1, 3))
            session.flush()
            first_id, newer_id = first.id, newer.id
        with db.unit_of_work() as session:  # a retry in a later transaction adds nothing either
            add_override(session, schedule="pay", user_id="U0SAM", starts_at=utc(2027, 1, 5, 10),
                         ends_at=utc(2027, 1, 5, 14), created_by="U0LEE", now=utc(2027, 1, 1, 0, 2),
                         idempotency_key="cmd-1")
        with db.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(OncallOverride)) == 3
            windows = active_overrides(session, "pay", utc(2027, 1, 5), utc(2027, 1, 6))
            assert [w.id for w in windows] == [first_id, newer_id]
            assert active_overrides(session, "pay", utc(2027, 1, 5, 14), utc(2027, 1, 6)) == []
            assert windows[0].start == utc(2027, 1, 5, 10) and windows[0].start.tzinfo is not None
            assert on_call_at(SCHEDULE, utc(2027, 1, 5, 12, 30), windows).user == "U0KIM"  # type: ignore[union-attr]
            assert on_call_at(SCHEDULE, utc(2027, 1, 5, 11), windows).user == "U0SAM"  # type: ignore[union-attr]
            # The same through the database lookups the Slack side uses.
            assert on_call_now(session, "pay", SCHEDULE, utc(2027, 1, 5, 12, 30)) == Shift(
                "U0KIM", utc(2027, 1, 5, 12), utc(2027, 1, 5, 13), "override", newer_id)
            assert upcoming_handoff(session, "pay", SCHEDULE, utc(2027, 1, 5, 8)) == utc(2027, 1, 5, 10)
            assert [s.user for s in final_rota(session, "pay", SCHEDULE, utc(2027, 1, 5), utc(2027, 1, 6))] == [
                "U0LEE", "U0SAM", "U0KIM", "U0SAM", "U0LEE"]
        with db.unit_of_work() as session:
            removed = remove_override(session, newer_id, removed_by="U0KIM", now=utc(2027, 1, 4))
            assert removed is not None and removed.removed_by == "U0KIM"
            assert remove_override(session, 9999, removed_by="U0KIM", now=utc(2027, 1, 4)) is None
        with db.unit_of_work() as session:
            again_removed = remove_override(session, newer_id, removed_by="U0LEE", now=utc(2027, 1, 5))
            assert again_removed is not None and again_removed.removed_by == "U0KIM"  # the first removal stays
            windows = active_overrides(session, "pay", utc(2027, 1, 5), utc(2027, 1, 6))
            assert [w.id for w in windows] == [first_id]
            assert on_call_at(SCHEDULE, utc(2027, 1, 5, 12, 30), windows).user == "U0SAM"  # type: ignore[union-attr]
        with db.unit_of_work() as session, pytest.raises(BadInput):
            add_override(session, schedule="pay", user_id="U0SAM", starts_at=utc(2027, 1, 5, 10),
                         ends_at=utc(2027, 1, 5, 10), created_by="U0LEE", now=utc(2027, 1, 1))
    finally:
        db.engine.dispose()
