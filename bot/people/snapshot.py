"""The `person_names` table: read the names we have, write the names Slack just told us."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.orm import Session

from bot.db.models import PersonName
from bot.db.types import UTCDateTime

# Slack user ids (`U…`, and `W…` on Enterprise Grid); anything else ("sevbot", user groups `S…`) has no name to take.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")

# A newer answer replaces an older one; the same statement on SQLite and PostgreSQL, built once.
_UPSERT = text(
    "INSERT INTO person_names (user_id, display_name, real_name, fetched_at) "
    "VALUES (:user_id, :display_name, :real_name, :fetched_at) "
    "ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, real_name = excluded.real_name, "
    "fetched_at = excluded.fetched_at"
).bindparams(bindparam("fetched_at", type_=UTCDateTime()))


def is_user_id(value: object) -> bool:
    return isinstance(value, str) and USER_ID.match(value) is not None


def known_names(session: Session | Connection, user_ids: Iterable[str]) -> dict[str, str]:
    """The snapshot's display name of each id it has."""
    ids = sorted({u for u in user_ids if is_user_id(u)})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start:start + 500]
        rows = session.execute(select(PersonName.user_id, PersonName.display_name).where(PersonName.user_id.in_(chunk)))
        names.update({row.user_id: row.display_name for row in rows})
    return names


def save_name(connection: Connection, user_id: str, display_name: str, real_name: str | None, at: datetime) -> None:
    connection.execute(_UPSERT, {"user_id": user_id, "display_name": display_name, "real_name": real_name or None,
                                 "fetched_at": at})
