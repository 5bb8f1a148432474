"""The Home tab's viewers as rows (`home_viewers`), so every replica refreshes every viewer and the per-person rate
bound holds across replicas. Each method is one short statement (or two in one transaction); bot/home/refresh.py
decides when to call them.

The bound is a conditional UPDATE (`claim`): a publish is claimed only while one is owed (`dirty_since` set) and the
last publish is older than the interval. PostgreSQL re-checks that condition after waiting for a concurrent claim of
the same row, so of two replicas claiming at once exactly one gets the row; SQLite has one writer at a time.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.db.engine import Database
from bot.db.models import HomeViewer

V = HomeViewer.__table__.c


@dataclass(frozen=True)
class Claim:
    """A publish this process may send now: the notice to show at the top, the digest of the view last published."""

    at: datetime
    notice: str | None
    digest: str | None


class ViewerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, user: str, now: datetime, *, resend: bool = False, notice: str | None = None) -> None:
        """The person opened the tab (or clicked on it): remember them and owe them a publish. `resend`: send the
        next view even if it is the same as the last (Slack has nothing of ours to show them)."""
        insert: Any = postgresql.insert if self.db.is_postgres else sqlite.insert
        stmt = insert(HomeViewer.__table__).values(user_id=user, opened_at=now, dirty_since=now, notice=notice)
        changes: dict[str, Any] = {"opened_at": stmt.excluded.opened_at,
                                   "dirty_since": func.coalesce(V.dirty_since, stmt.excluded.dirty_since)}
        if resend or notice is not None:
            changes["digest"] = None
        if notice is not None:
            changes["notice"] = stmt.excluded.notice
        with self.db.autocommit() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=[V.user_id], set_=changes))

    def mark_dirty(self, now: datetime, seen_since: datetime, users: Iterable[str] | None = None) -> list[tuple[str, datetime | None]]:
        """Owe a publish to everyone seen since `seen_since` (or to these of them): one UPDATE. Returns the viewers
        this call marked, with their last publish time; those already owed one are someone else's to publish."""
        owed = [V.dirty_since.is_(None), V.opened_at >= seen_since]
        if users is not None:
            owed.append(V.user_id.in_(sorted(set(users))))
        with self.db.reading() as session:  # most commits have nobody to mark: a read costs no turn at SQLite's writer
            if session.execute(select(V.user_id).where(*owed).limit(1)).first() is None:
                return []
        stmt = update(HomeViewer.__table__).where(*owed)
        with self.db.autocommit() as conn:
            rows = conn.execute(stmt.values(dirty_since=now).returning(V.user_id, V.published_at))
            return [(str(user), published) for user, published in rows]

    def claim(self, user: str, now: datetime, published_before: datetime) -> Claim | None:
        """Take the publish owed to `user` if their last one was before `published_before`; None if none is owed
        or it is not time yet (here or on any replica)."""
        with self.db.transaction() as conn:
            row = conn.execute(update(HomeViewer.__table__).where(
                V.user_id == user, V.dirty_since.is_not(None),
                or_(V.published_at.is_(None), V.published_at <= published_before),
            ).values(published_at=now, dirty_since=None).returning(V.notice, V.digest)).first()
            if row is None:
                return None
            if row.notice is not None:  # shown once: this publish takes it
                conn.execute(update(HomeViewer.__table__).where(V.user_id == user).values(notice=None))
            return Claim(now, row.notice, row.digest)

    def owed(self, user: str) -> tuple[bool, datetime | None]:
        """Whether a publish is still owed to `user`, and when their last one was."""
        with self.db.reading() as session:
            row = session.execute(select(V.dirty_since, V.published_at).where(V.user_id == user)).first()
        return (False, None) if row is None else (row.dirty_since is not None, row.published_at)

    def published(self, user: str, claimed_at: datetime, digest: str | None) -> None:
        """Record what the publish claimed at `claimed_at` sent (None: unknown, send the next view whatever it is);
        a later claim's record wins."""
        with self.db.autocommit() as conn:
            conn.execute(update(HomeViewer.__table__).where(V.user_id == user, V.published_at == claimed_at).values(digest=digest))

    def due(self, published_before: datetime, limit: int) -> list[str]:
        """Viewers owed a publish whose last one was before `published_before`: the tick's one query (an index range
        on `dirty_since`, which is NULL for everyone not owed one)."""
        with self.db.reading() as session:
            return list(session.scalars(select(V.user_id).where(
                V.dirty_since.is_not(None), or_(V.published_at.is_(None), V.published_at <= published_before),
            ).order_by(V.dirty_since).limit(limit)))

    def forget(self, seen_before: datetime, keep_at_most: int) -> int:
        """Forget viewers not seen since `seen_before`, then the least recently seen beyond `keep_at_most`."""
        with self.db.transaction() as conn:
            gone = conn.execute(delete(HomeViewer.__table__).where(V.opened_at < seen_before)).rowcount
            extra = (conn.scalar(select(func.count()).select_from(HomeViewer.__table__)) or 0) - keep_at_most
            if extra > 0:
                oldest = select(V.user_id).order_by(V.opened_at, V.user_id).limit(extra).scalar_subquery()
                gone += conn.execute(delete(HomeViewer.__table__).where(V.user_id.in_(oldest))).rowcount
        return int(gone)
