"""Cross-province transfers: cases, branches per insurance type, uploaded materials, reviews.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transfers',
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('origin_province', sa.String(length=32), nullable=False),
    sa.Column('origin_city', sa.String(length=32), nullable=False),
    sa.Column('destination_province', sa.String(length=32), nullable=False),
    sa.Column('destination_city', sa.String(length=32), nullable=False),
    sa.Column('types', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('applicant', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.employee_id'], name=op.f('fk_transfers_employee_id_employees')),
    sa.PrimaryKeyConstraint('workflow_id', name=op.f('pk_transfers'))
    )
    op.create_index(op.f('ix_transfers_created_at'), 'transfers', ['created_at'], unique=False)
    op.create_index(op.f('ix_transfers_stage_updated_at'), 'transfers', ['stage', 'updated_at'], unique=False)
    op.create_table('transfer_branches',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('current_step', sa.String(length=40), nullable=True),
    sa.Column('step_due', sa.Date(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('awaiting_review', 'submitted', 'accepted', 'transferring', 'completed', 'rejected', 'cancelled')", name=op.f('ck_transfer_branches_status_known')),
    sa.ForeignKeyConstraint(['workflow_id'], ['transfers.workflow_id'], name=op.f('fk_transfer_branches_workflow_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_branches')),
    sa.UniqueConstraint('workflow_id', 'kind', name=op.f('uq_transfer_branches_workflow_id_kind'))
    )
    op.create_index(op.f('ix_transfer_branches_kind_completed_at'), 'transfer_branches', ['kind', 'completed_at'], unique=False)
    op.create_table('transfer_materials',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('current', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.ForeignKeyConstraint(['workflow_id'], ['transfers.workflow_id'], name=op.f('fk_transfer_materials_workflow_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_materials'))
    )
    op.create_index(op.f('ix_transfer_materials_workflow_id_code'), 'transfer_materials', ['workflow_id', 'code'], unique=False)
    op.create_table('transfer_reviews',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f('ck_transfer_reviews_decision_known')),
    sa.ForeignKeyConstraint(['workflow_id'], ['transfers.workflow_id'], name=op.f('fk_transfer_reviews_workflow_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_reviews'))
    )
    op.create_index(op.f('ix_transfer_reviews_decision_at'), 'transfer_reviews', ['decision', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_transfer_reviews_decision_at'), table_name='transfer_reviews')
    op.drop_table('transfer_reviews')
    op.drop_index(op.f('ix_transfer_materials_workflow_id_code'), table_name='transfer_materials')
    op.drop_table('transfer_materials')
    op.drop_index(op.f('ix_transfer_branches_kind_completed_at'), table_name='transfer_branches')
    op.drop_table('transfer_branches')
    op.drop_index(op.f('ix_transfers_stage_updated_at'), table_name='transfers')
    op.drop_index(op.f('ix_transfers_created_at'), table_name='transfers')
    op.drop_table('transfers')
