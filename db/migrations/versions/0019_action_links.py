"""Decision links (one per delivery, single-use, expiring), sign-in accounts bound to logins, the
person each delivery reaches, WeCom, Feishu, DingTalk and SMS as delivery channels, and an
employee's mobile number for SMS.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("employees", sa.Column("mobile", sa.String(length=20), nullable=True))
    op.add_column("deliveries", sa.Column("person", sa.String(length=64), nullable=True))
    op.drop_constraint(op.f("ck_deliveries_channel_known"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_channel_known"), "deliveries", "channel IN ('email', 'webhook', 'wecom', 'feishu', 'dingtalk', 'sms')")
    op.create_table(
        "action_links",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.BigInteger(), sa.ForeignKey("deliveries.id"), nullable=False, unique=True),
        sa.Column("workflow_id", sa.String(length=200), sa.ForeignKey("cases.workflow_id"), nullable=False),
        sa.Column("task_key", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_choice", sa.String(length=30), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("im_ref", sa.String(length=100), nullable=True),
        sa.Column("im_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("im_close_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("im_next_try_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_action_links_workflow_id_task_key", "action_links", ["workflow_id", "task_key"])
    op.create_index("ix_action_links_im_open", "action_links", ["im_next_try_at", "id"],
                    postgresql_where=sa.text("im_ref IS NOT NULL AND im_closed_at IS NULL"))
    op.create_table(
        "sign_in_bindings",
        sa.Column("provider", sa.String(length=20), primary_key=True),
        sa.Column("login", sa.String(length=64), primary_key=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sign_in_bindings")
    op.drop_index("ix_action_links_im_open", table_name="action_links")
    op.drop_index("ix_action_links_workflow_id_task_key", table_name="action_links")
    op.drop_table("action_links")
    op.execute("DELETE FROM delivery_attempts WHERE delivery_id IN"
               " (SELECT id FROM deliveries WHERE channel IN ('wecom', 'feishu', 'dingtalk', 'sms'))")
    op.execute("DELETE FROM deliveries WHERE channel IN ('wecom', 'feishu', 'dingtalk', 'sms')")
    op.drop_constraint(op.f("ck_deliveries_channel_known"), "deliveries", type_="check")
    op.create_check_constraint(op.f("ck_deliveries_channel_known"), "deliveries", "channel IN ('email', 'webhook')")
    op.drop_column("deliveries", "person")
    op.drop_column("employees", "mobile")
