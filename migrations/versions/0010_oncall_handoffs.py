"""on-call hand-offs: the schedules sevbot watches and the hand-offs it announced

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('oncall_rotas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule')
    )
    op.create_table('oncall_handoffs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('previous_user_id', sa.String(length=32), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('oncall_handoffs', schema=None) as batch_op:
        batch_op.create_index('uq_oncall_handoffs_shift', ['schedule', 'at', 'user_id'], unique=True)


def downgrade() -> None:
    # The hand-off timers point at the rota rows: they go with them.
    op.execute("DELETE FROM timers WHERE kind = 'oncall_handoff'")
    with op.batch_alter_table('oncall_handoffs', schema=None) as batch_op:
        batch_op.drop_index('uq_oncall_handoffs_shift')
    op.drop_table('oncall_handoffs')
    op.drop_table('oncall_rotas')
