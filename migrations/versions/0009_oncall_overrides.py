"""on-call overrides: someone covers a schedule for a while

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('oncall_overrides',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('replaced_user_id', sa.String(length=32), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=32), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('oncall_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_oncall_overrides_schedule_ends', ['schedule', 'ends_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oncall_overrides', schema=None) as batch_op:
        batch_op.drop_index('ix_oncall_overrides_schedule_ends')

    op.drop_table('oncall_overrides')
