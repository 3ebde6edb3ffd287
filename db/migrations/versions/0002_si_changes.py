"""Social-insurance changes, enrollments, case id allocation, the simulated agency's records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


OLD_STATUSES = "'open', 'completed', 'withdrawn', 'rejected', 'abandoned', 'failed'"
NEW_STATUSES = "'open', 'completed', 'withdrawn', 'rejected', 'revoked', 'abandoned', 'failed'"


def _case_statuses(statuses: str) -> None:
    op.drop_constraint(op.f("ck_cases_status_known"), "cases", type_="check")
    op.create_check_constraint(op.f("ck_cases_status_known"), "cases", f"status IN ({statuses})")


def upgrade() -> None:
    _case_statuses(NEW_STATUSES)
    op.create_table('case_requests',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_case_requests')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_case_requests_workflow_id'))
    )
    op.create_table('case_sequences',
    sa.Column('prefix', sa.String(length=150), nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_case_sequences'))
    )
    op.create_table('sim_agency_requests',
    sa.Column('reference', sa.String(length=250), nullable=False),
    sa.Column('operation', sa.String(length=20), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.BigInteger(), server_default='1', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('reference', name=op.f('pk_sim_agency_requests'))
    )
    op.create_table('si_changes',
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('base', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('months', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('effective_month', sa.String(length=7), nullable=False),
    sa.Column('estimate_total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('stage', sa.String(length=30), nullable=False),
    sa.Column('maker', sa.String(length=64), nullable=False),
    sa.Column('approver', sa.String(length=64), nullable=True),
    sa.Column('acceptance_no', sa.String(length=64), nullable=True),
    sa.Column('revocation_no', sa.String(length=64), nullable=True),
    sa.Column('agency_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('enrollment', 'back_payment', 'stop', 'base_adjustment')", name=op.f('ck_si_changes_kind_known')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_si_changes_employee_id_employees')),
    sa.PrimaryKeyConstraint('workflow_id', name=op.f('pk_si_changes'))
    )
    op.create_index(op.f('ix_si_changes_employee_id_city_stage'), 'si_changes', ['employee_id', 'city', 'stage'], unique=False)
    op.create_index(op.f('ix_si_changes_stage_updated_at'), 'si_changes', ['stage', 'updated_at'], unique=False)
    op.create_table('si_enrollments',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('base', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('since_month', sa.String(length=7), nullable=False),
    sa.Column('until_month', sa.String(length=7), nullable=True),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint("status IN ('active', 'stopped', 'revoked')", name=op.f('ck_si_enrollments_status_known')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_si_enrollments_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_si_enrollments'))
    )
    op.create_index('uq_si_enrollments_one_active', 'si_enrollments', ['employee_id', 'city'], unique=True, postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    _case_statuses(OLD_STATUSES)
    op.drop_index('uq_si_enrollments_one_active', table_name='si_enrollments', postgresql_where=sa.text("status = 'active'"))
    op.drop_table('si_enrollments')
    op.drop_index(op.f('ix_si_changes_stage_updated_at'), table_name='si_changes')
    op.drop_index(op.f('ix_si_changes_employee_id_city_stage'), table_name='si_changes')
    op.drop_table('si_changes')
    op.drop_table('sim_agency_requests')
    op.drop_table('case_sequences')
    op.drop_table('case_requests')
