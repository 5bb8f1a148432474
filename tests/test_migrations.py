"""Models and migrations agree, and every revision goes up, down and up again, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.db.migrate import downgrade, schema_state, upgrade
from bot.db.models import Base
from bot.settings import load_settings


def _url(database_url: str) -> str:
    return load_settings(database_url=database_url).database_url


def test_models_match_migrations(database_url: str) -> None:
    url = _url(database_url)
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
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


def test_a_newer_database_is_refused(database_url: str) -> None:
    from sqlalchemy import text

    url = _url(database_url)
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    problem = schema_state(engine).problem() or ""
    engine.dispose()
    assert "newer than this sevbot knows" in problem
