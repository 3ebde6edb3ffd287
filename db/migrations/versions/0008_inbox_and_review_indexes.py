"""Indexes the growth benchmark asked for: the inbox's open tasks per role in id order, and
transfer reviews by transfer (bench/RESULTS.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_approval_tasks_open_role_id", "approval_tasks", ["role", "id"],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index(op.f("ix_transfer_reviews_workflow_id"), "transfer_reviews", ["workflow_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transfer_reviews_workflow_id"), table_name="transfer_reviews")
    op.drop_index("ix_approval_tasks_open_role_id", table_name="approval_tasks")
