"""Offboarding: employee records a departure must settle, clearance items, non-compete payments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clearance_items',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('gate', sa.String(length=20), nullable=False),
    sa.Column('item_key', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('owner_role', sa.String(length=30), nullable=False),
    sa.Column('owner_user', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('signed_by', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clearance_items')),
    sa.UniqueConstraint('workflow_id', 'gate', 'item_key', name=op.f('uq_clearance_items_workflow_id_gate_item_key'))
    )
    op.create_index(op.f('ix_clearance_items_status_due_at'), 'clearance_items', ['status', 'due_at'], unique=False)
    op.create_table('employee_records',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('dispute', 'complaint', 'violation', 'loan', 'advance', 'asset', 'access', 'non_compete')", name=op.f('ck_employee_records_kind_known')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_employee_records_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee_records'))
    )
    op.create_index('ix_employee_records_open', 'employee_records', ['employee_id', 'kind'], unique=False, postgresql_where=sa.text("status = 'open'"))
    op.create_table('non_compete_payments',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('agreement_id', sa.String(length=200), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('kind', sa.String(length=20), server_default='monthly', nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_non_compete_payments_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_non_compete_payments')),
    sa.UniqueConstraint('agreement_id', 'kind', 'month', name=op.f('uq_non_compete_payments_agreement_id_kind_month'))
    )


def downgrade() -> None:
    op.drop_table('non_compete_payments')
    op.drop_index('ix_employee_records_open', table_name='employee_records', postgresql_where=sa.text("status = 'open'"))
    op.drop_table('employee_records')
    op.drop_index(op.f('ix_clearance_items_status_due_at'), table_name='clearance_items')
    op.drop_table('clearance_items')
