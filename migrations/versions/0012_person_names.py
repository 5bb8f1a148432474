"""person names: a snapshot of Slack display names for the postmortem export

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('person_names',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=False),
    sa.Column('real_name', sa.Text(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('person_names')
