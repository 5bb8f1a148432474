"""Alembic environment: the URL comes from the caller (sevbot migrate) or DATABASE_URL, never from a file."""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from bot.db.migrate import LINEAGE_TABLE, record_lineage
from bot.db.models import Base
from bot.db.types import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Revisions stay free of app imports: our UTC wrapper is a timezone-aware DateTime in the schema.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    # The lineage table is bookkeeping like alembic_version, not a model: autogenerate must not drop it.
    return not (type_ == "table" and name == LINEAGE_TABLE)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        render_item=_render_item,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
        # Every run (even one with nothing to apply) records the revision graph this code knows, so an older
        # replica can tell this database is ahead of it rather than from another history (bot/db/migrate.py).
        record_lineage(connection, ((rev.revision, rev.down_revision) for rev in context.script.walk_revisions()))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if not config.get_main_option("sqlalchemy.url"):
        from bot.settings import load_settings

        config.set_main_option("sqlalchemy.url", load_settings().database_url)
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        if conn.in_transaction():  # SQLite: Alembic commits each migration, but not the lineage written after them
            conn.commit()


if context.is_offline_mode():
    raise SystemExit("sevbot migrations run online only: use `sevbot migrate`")
run_migrations_online()
