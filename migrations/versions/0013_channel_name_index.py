"""an index on incidents.channel_name: the declare's held-names lookup reads it instead of the whole table

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain CREATE INDEX (no batch mode): rebuilding incidents on SQLite would drop the full-text triggers of 0011.
    op.create_index('ix_incidents_channel_name', 'incidents', ['channel_name'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incidents_channel_name', table_name='incidents')
