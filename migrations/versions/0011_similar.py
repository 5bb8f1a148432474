"""similar past incidents: full-text search over incidents (FTS5 / tsvector), the notice each incident got, and
the indexes the lookup reads (alert fingerprints, service by date)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The names are listed in bot/similar/schema.py (search.py reads them); the DDL stays here, frozen with the revision.
SQLITE_FTS_TABLE = "incidents_fts"
SQLITE_TRIGGERS = ("incidents_fts_ai", "incidents_fts_ad", "incidents_fts_au")
PG_VECTOR_COLUMN = "search_vector"
PG_GIN_INDEX = "ix_incidents_search_vector"
PG_TEXT_CONFIG = "english"

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {SQLITE_FTS_TABLE} USING fts5(title, description, content='incidents', content_rowid='id', "
    "tokenize='porter unicode61')",
    f"CREATE TRIGGER incidents_fts_ai AFTER INSERT ON incidents BEGIN "
    f"INSERT INTO {SQLITE_FTS_TABLE}(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    f"CREATE TRIGGER incidents_fts_ad AFTER DELETE ON incidents BEGIN "
    f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); END",
    # Only when the searched text changes: the card and provisioning update incidents rows all the time.
    f"CREATE TRIGGER incidents_fts_au AFTER UPDATE OF title, description ON incidents BEGIN "
    f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}, rowid, title, description) VALUES ('delete', old.id, old.title, old.description); "
    f"INSERT INTO {SQLITE_FTS_TABLE}(rowid, title, description) VALUES (new.id, new.title, new.description); END",
    # Incidents recorded before this revision are searchable too.
    f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}) VALUES ('rebuild')",
)
SQLITE_DROP = (*(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS), f"DROP TABLE IF EXISTS {SQLITE_FTS_TABLE}")

PG_CREATE = (
    f"ALTER TABLE incidents ADD COLUMN {PG_VECTOR_COLUMN} tsvector GENERATED ALWAYS AS ("
    f"setweight(to_tsvector('{PG_TEXT_CONFIG}', coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('{PG_TEXT_CONFIG}', coalesce(description, '')), 'B')) STORED",
    f"CREATE INDEX {PG_GIN_INDEX} ON incidents USING gin ({PG_VECTOR_COLUMN})",
)
PG_DROP = (f"DROP INDEX IF EXISTS {PG_GIN_INDEX}", f"ALTER TABLE incidents DROP COLUMN IF EXISTS {PG_VECTOR_COLUMN}")


def upgrade() -> None:
    op.create_table('similar_notices',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('shown', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id')
    )
    op.create_index('ix_alerts_fingerprint', 'alerts', ['fingerprint'], unique=False)
    op.create_index('ix_incidents_service_declared', 'incidents', ['service', 'declared_at'], unique=False)
    dialect = op.get_bind().dialect.name
    statements = PG_CREATE if dialect == 'postgresql' else SQLITE_CREATE if dialect == 'sqlite' else ()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = PG_DROP if dialect == 'postgresql' else SQLITE_DROP if dialect == 'sqlite' else ()
    for statement in statements:
        op.execute(statement)
    op.drop_index('ix_incidents_service_declared', table_name='incidents')
    op.drop_index('ix_alerts_fingerprint', table_name='alerts')
    op.drop_table('similar_notices')
