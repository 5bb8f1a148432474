"""Models and migrations agree, and every revision goes up, down and up again, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.db.migrate import LINEAGE_TABLE, downgrade, schema_state, upgrade
from bot.db.models import Base
from bot.similar.schema import SEARCH_OBJECTS
from bot.settings import load_settings


def _url(database_url: str) -> str:
    return load_settings(database_url=database_url).database_url


def test_models_match_migrations(database_url: str) -> None:
    url = _url(database_url)
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        # The lineage table is migration bookkeeping (like alembic_version), not a model.
        # The full-text search objects of revision 0011 (an FTS5 table and its shadow tables on SQLite, a generated
        # tsvector column and its GIN index on PostgreSQL) are DDL the models cannot describe: skipped by exact name.
        skipped = {("table", LINEAGE_TABLE), *SEARCH_OBJECTS}
        include = lambda name, type_, _parent: (type_, name) not in skipped  # noqa: E731
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    url = _url(database_url)
    upgrade(url)
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    state = schema_state(engine)
    assert state.current is None and "not migrated" in (state.problem() or "")
    upgrade(url)
    assert {"incidents", "timeline_events", "role_assignments"} <= set(inspect(engine).get_table_names())
    assert schema_state(engine).ok
    engine.dispose()


def test_start_up_revision_check_agrees_with_alembic() -> None:
    """`sevbot serve` reads revisions without importing Alembic; it must find the head Alembic finds."""
    from alembic.script import ScriptDirectory

    from bot.db.migrate import alembic_config, revision_graph

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head, known = revision_graph()
    assert head == script.get_current_head()
    assert known == {rev.revision for rev in script.walk_revisions()}


def test_an_unknown_revision_is_refused(database_url: str) -> None:
    """A revision this sevbot never saw and that the lineage does not lead back to its head: another history."""
    from sqlalchemy import text

    url = _url(database_url)
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    state = schema_state(engine)
    engine.dispose()
    assert state.ahead is None and "does not know" in (state.problem() or "")


def test_a_database_ahead_by_a_newer_release_is_usable_with_a_warning(database_url: str) -> None:
    """Rolling upgrade: a newer release recorded its revision as following our head; we run, and say so."""
    from sqlalchemy import text

    url = _url(database_url)
    upgrade(url)
    engine = create_engine(url)
    head = schema_state(engine).head
    with engine.begin() as conn:
        rows = set(conn.execute(text(f"SELECT revision FROM {LINEAGE_TABLE}")).scalars())
        assert head in rows  # every migrate run records the graph it knows
        conn.execute(text(f"INSERT INTO {LINEAGE_TABLE} (revision, down_revisions) VALUES ('n1', :head), ('n2', 'n1')"), {"head": head})
        conn.execute(text("UPDATE alembic_version SET version_num = 'n2'"))
    state = schema_state(engine)
    assert state.ahead == 2 and state.problem() is None and "2 revision(s) ahead" in (state.warning() or "")
    # ...but a database behind the code is still refused.
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    behind = schema_state(engine)
    engine.dispose()
    assert behind.ahead is None and "behind head" in (behind.problem() or "")
