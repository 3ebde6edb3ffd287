"""Receivables and settlements (the ledger), the notification outbox, employees' SI status.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('dedupe_key', sa.String(length=250), nullable=False),
    sa.Column('recipient_kind', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("recipient_kind IN ('role', 'user', 'employee')", name=op.f('ck_notifications_recipient_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    op.create_index('ix_notifications_pending', 'notifications', ['created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index(op.f('ix_notifications_recipient_kind_recipient_id'), 'notifications', ['recipient_kind', 'recipient', 'id'], unique=False)
    op.create_table('receivables',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('settled', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=15), server_default='open', nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'settled', 'written_off')", name=op.f('ck_receivables_status_known')),
    sa.CheckConstraint('settled >= 0 AND settled <= amount', name=op.f('ck_receivables_settled_within_amount')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_receivables_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receivables')),
    sa.UniqueConstraint('employee_id', 'kind', 'month', name=op.f('uq_receivables_employee_id_kind_month'))
    )
    op.create_index('ix_receivables_open', 'receivables', ['employee_id', 'booked_at'], unique=False, postgresql_where=sa.text("status = 'open'"))
    op.create_table('settlements',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('confirmed_by', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('payroll_deduction', 'repayment', 'write_off')", name=op.f('ck_settlements_method_known')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_settlements_amount_positive')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_settlements_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('workflow_id', 'step', name=op.f('uq_settlements_workflow_id_step'))
    )
    op.add_column('employees', sa.Column('si_status', sa.String(length=40), server_default='normal', nullable=False))


def downgrade() -> None:
    op.drop_column('employees', 'si_status')
    op.drop_table('settlements')
    op.drop_index('ix_receivables_open', table_name='receivables', postgresql_where=sa.text("status = 'open'"))
    op.drop_table('receivables')
    op.drop_index(op.f('ix_notifications_recipient_kind_recipient_id'), table_name='notifications')
    op.drop_index('ix_notifications_pending', table_name='notifications', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('notifications')
