"""Platform tables: employees, cases, approval tasks, the append-only audit trail, activity steps.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activity_steps',
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('workflow_id', 'step', name=op.f('pk_activity_steps'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=30), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events"
        " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )
    op.create_index(op.f('ix_audit_events_subject_id'), 'audit_events', ['subject', 'id'], unique=False)
    op.create_index(op.f('ix_audit_events_workflow_id_id'), 'audit_events', ['workflow_id', 'id'], unique=False)
    op.create_table('employees',
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('resident_id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('position', sa.String(length=100), nullable=False),
    sa.Column('hire_date', sa.Date(), nullable=False),
    sa.Column('probation_end', sa.Date(), nullable=True),
    sa.Column('si_province', sa.String(length=32), nullable=False),
    sa.Column('si_city', sa.String(length=32), nullable=False),
    sa.Column('contribution_base', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=5), server_default='zh', nullable=False),
    sa.Column('manager_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("language IN ('zh', 'en')", name=op.f('ck_employees_language_known')),
    sa.CheckConstraint('contribution_base >= 0', name=op.f('ck_employees_base_not_negative')),
    sa.ForeignKeyConstraint(['manager_id'], ['employees.employee_id'], name=op.f('fk_employees_manager_id_employees')),
    sa.PrimaryKeyConstraint('employee_id', name=op.f('pk_employees')),
    sa.UniqueConstraint('resident_id_number', name=op.f('uq_employees_resident_id_number'))
    )
    op.create_table('cases',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('policy_version', sa.String(length=64), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'completed', 'withdrawn', 'rejected', 'abandoned', 'failed')", name=op.f('ck_cases_status_known')),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_cases_employee_id_employees')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_cases_workflow_id'))
    )
    op.create_index(op.f('ix_cases_employee_id_opened_at'), 'cases', ['employee_id', 'opened_at'], unique=False)
    op.create_index(op.f('ix_cases_status_kind_opened_at_id'), 'cases', ['status', 'kind', 'opened_at', 'id'], unique=False)
    op.create_table('approval_tasks',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('task_key', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=30), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('actor_role', sa.String(length=30), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'decided', 'cancelled')", name=op.f('ck_approval_tasks_status_known')),
    sa.ForeignKeyConstraint(['workflow_id'], ['cases.workflow_id'], name=op.f('fk_approval_tasks_workflow_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_tasks')),
    sa.UniqueConstraint('workflow_id', 'task_key', name=op.f('uq_approval_tasks_workflow_id_task_key'))
    )
    op.create_index(op.f('ix_approval_tasks_role_status_due_at_id'), 'approval_tasks', ['role', 'status', 'due_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_approval_tasks_role_status_due_at_id'), table_name='approval_tasks')
    op.drop_table('approval_tasks')
    op.drop_index(op.f('ix_cases_status_kind_opened_at_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_employee_id_opened_at'), table_name='cases')
    op.drop_table('cases')
    op.drop_table('employees')
    op.drop_index(op.f('ix_audit_events_workflow_id_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_subject_id'), table_name='audit_events')
    op.drop_table('audit_events')  # drops its triggers with it
    op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table('activity_steps')
