"""home viewers: who has the Home tab open, shared by every replica (refresh marks, publish claims, rate bound)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('home_viewers',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('notice', sa.Text(), nullable=True),
    sa.Column('dirty_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_index('ix_home_viewers_opened_at', 'home_viewers', ['opened_at'], unique=False)
    # The tick's one query per replica (who is owed a publish) reads this index, not the table.
    op.create_index('ix_home_viewers_dirty_since', 'home_viewers', ['dirty_since'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_home_viewers_dirty_since', table_name='home_viewers')
    op.drop_index('ix_home_viewers_opened_at', table_name='home_viewers')
    op.drop_table('home_viewers')
