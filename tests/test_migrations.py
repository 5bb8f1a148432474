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
