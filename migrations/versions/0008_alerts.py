"""alert groups, alerts and their events; pages and timers of alert groups

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alert_groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('group_key', sa.Text(), nullable=False),
    sa.Column('live_key', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('route', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=True),
    sa.Column('runbook', sa.Text(), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('external_url', sa.Text(), nullable=True),
    sa.Column('silence_url', sa.Text(), nullable=True),
    sa.Column('firing', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('truncated', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('first_fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=32), nullable=True),
    sa.Column('acked_by', sa.String(length=32), nullable=True),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('silenced_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('message_version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('message_synced_version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('live_key')
    )
    with op.batch_alter_table('alert_groups', schema=None) as batch_op:
        batch_op.create_index('ix_alert_groups_channel_state', ['channel_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_groups_incident_id'), ['incident_id'], unique=False)

    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['alert_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_events_group_id'), ['group_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('annotations', sa.JSON(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('generator_url', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['alert_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('uq_alerts_group_fingerprint', ['group_id', 'fingerprint'], unique=True)

    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_group_id', sa.Integer(), nullable=True))
        batch_op.alter_column('incident_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_pages_alert_group_id'), ['alert_group_id'], unique=False)
        batch_op.create_foreign_key('fk_pages_alert_group_id', 'alert_groups', ['alert_group_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.alter_column('incident_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade() -> None:
    # Pages and timers of alert groups have no incident: they go with the alert tables.
    op.execute("DELETE FROM timers WHERE incident_id IS NULL")
    op.execute("DELETE FROM pages WHERE incident_id IS NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.alter_column('incident_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pages_alert_group_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_pages_alert_group_id'))
        batch_op.alter_column('incident_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('alert_group_id')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_group_fingerprint')

    op.drop_table('alerts')
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_events_group_id'))

    op.drop_table('alert_events')
    with op.batch_alter_table('alert_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_groups_incident_id'))
        batch_op.drop_index('ix_alert_groups_channel_state')

    op.drop_table('alert_groups')
