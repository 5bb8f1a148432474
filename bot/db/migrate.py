"""Applying and checking Alembic revisions; start-up refuses a database it does not match.

Rolling upgrades: a newer release's `sevbot migrate` runs while the older replicas keep serving, so each release's
migrations must be additive (new tables, nullable or defaulted columns) for one release. An older replica that
restarts against that newer schema must therefore start, not refuse. Alembic's `alembic_version` holds only the
current revision, which the older code has never seen; so every migration run also records the revision graph it
knows in `sevbot_schema_lineage` (revision -> the revisions it follows). Start-up follows that lineage from the
database's revision: reaching this code's head means "ahead of us" (run, with a warning); not reaching it means an
unrelated history (refuse). A database behind the code is always refused: the code needs its newest tables.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select, text

from bot.data import data_dir

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = data_dir("migrations")

# Bookkeeping beside alembic_version, written by migrations/env.py; not a model (autogenerate skips it).
LINEAGE_TABLE = "sevbot_schema_lineage"
_lineage = Table(
    LINEAGE_TABLE, MetaData(),
    Column("revision", String(64), primary_key=True),
    Column("down_revisions", String(255), nullable=True),  # space-separated (a merge revision has several)
)


def alembic_config(url: str) -> "Config":
    # Alembic (and Mako under it) is imported only to migrate: `sevbot serve` checks revisions without it (~5 MiB).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def record_lineage(conn: Connection, revisions: Iterable[tuple[str, str | tuple[str, ...] | None]]) -> None:
    """Called by migrations/env.py in the migration's transaction: remember each (revision, down_revision) the
    migrating code knows, so an older sevbot can tell later that the database's revision descends from its head.
    At base (everything downgraded) the table goes too: there is no schema left to describe."""
    at_base = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0
    if at_base:
        _lineage.drop(conn, checkfirst=True)
        return
    _lineage.create(conn, checkfirst=True)
    have = set(conn.execute(select(_lineage.c.revision)).scalars())
    rows = []
    for revision, down in revisions:
        if revision in have:
            continue
        downs = (down,) if isinstance(down, str) else tuple(down or ())
        rows.append({"revision": revision, "down_revisions": " ".join(downs) or None})
    if rows:
        conn.execute(_lineage.insert(), rows)


def _revisions_ahead(conn: Connection, current: str, head: str) -> int | None:
    """How many revisions `current` is past `head` by the recorded lineage; None when it does not descend from it."""
    if not inspect(conn).has_table(LINEAGE_TABLE):
        return None
    parents = {rev: (downs or "").split() for rev, downs in conn.execute(select(_lineage.c.revision, _lineage.c.down_revisions))}
    frontier, seen, steps = [current], {current}, 0
    while frontier:
        if head in frontier:
            return steps
        steps += 1
        frontier = [p for rev in frontier for p in parents.get(rev, []) if p not in seen]
        seen.update(frontier)
    return None


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    known: bool
    ahead: int | None = None  # revisions the database is past this code's head (a newer release migrated it)

    @property
    def ok(self) -> bool:
        return self.current == self.head

    @property
    def usable(self) -> bool:
        """At head, or ahead of it by a newer release's (backward-compatible) migrations."""
        return self.ok or self.ahead is not None

    def problem(self) -> str | None:
        if self.usable:
            return None
        if self.current is None:
            return "the database is not migrated: run `sevbot migrate` first"
        if not self.known:
            return (f"the database is at revision {self.current}, which this sevbot (head {self.head}) does not know and "
                    f"which is not recorded as newer than its head: upgrade sevbot, or check DATABASE_URL names sevbot's database")
        return f"the database is at revision {self.current}, behind head {self.head}: run `sevbot migrate`"

    def warning(self) -> str | None:
        if self.ahead is None or self.ok:
            return None
        return (f"the database is at revision {self.current}, {self.ahead} revision(s) ahead of this sevbot's head {self.head}: "
                "a newer release migrated it; running anyway (migrations stay backward-compatible for one release), "
                "upgrade this replica")


_REVISION = re.compile(r"^revision(?::\s*str)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?::[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|None)", re.MULTILINE)


def revision_graph() -> tuple[str, frozenset[str]]:
    """(head, every known revision) read from migrations/versions/*.py; a test checks it against Alembic's view."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            raise RuntimeError(f"{path.name}: no revision/down_revision line")
        revisions[revision.group(1)] = down.group(1)
    heads = set(revisions) - {down for down in revisions.values() if down}
    if len(heads) != 1:
        raise RuntimeError(f"migrations/ must have exactly one head, found {sorted(heads)}")
    return heads.pop(), frozenset(revisions)


def schema_state(engine: Engine) -> SchemaState:
    head, known = revision_graph()
    with engine.connect() as conn:
        current = None
        if inspect(conn).has_table("alembic_version"):
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        ahead = None
        if current is not None and current not in known:
            ahead = _revisions_ahead(conn, current, head)
    return SchemaState(current=current, head=head, known=current is None or current in known, ahead=ahead)
