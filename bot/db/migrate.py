"""Applying and checking Alembic revisions; start-up refuses a database it does not match."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import re
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


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


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    known: bool

    @property
    def ok(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        if self.ok:
            return None
        if self.current is None:
            return "the database is not migrated: run `sevbot migrate` first"
        if not self.known:
            return f"the database is at revision {self.current}, newer than this sevbot knows (head {self.head}): upgrade sevbot"
        return f"the database is at revision {self.current}, behind head {self.head}: run `sevbot migrate`"


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
    return SchemaState(current=current, head=head, known=current is None or current in known)
