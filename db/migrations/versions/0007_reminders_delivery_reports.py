"""Reminders, notification delivery and the monthly report: case deadlines, the staff directory,
deliveries with their attempts, in-app reads, report runs and figures, and the sweep's indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_deadlines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref", sa.String(length=60), nullable=False),
        sa.Column("employee_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'met', 'cancelled')", name=op.f("ck_case_deadlines_status_known")),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.employee_id"],
                                name=op.f("fk_case_deadlines_employee_id_employees")),
        sa.ForeignKeyConstraint(["workflow_id"], ["cases.workflow_id"],
                                name=op.f("fk_case_deadlines_workflow_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_deadlines")),
        sa.UniqueConstraint("workflow_id", "kind", "ref", name=op.f("uq_case_deadlines_workflow_id_kind_ref")),
    )
    op.create_index("ix_case_deadlines_open", "case_deadlines", ["kind", "due_at", "id"],
                    postgresql_where=sa.text("status = 'open'"))

    op.create_table(
        "staff_members",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("level", sa.Integer(), server_default="1", nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=5), server_default="zh", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_staff_members_level_range")),
        sa.CheckConstraint("language IN ('zh', 'en')", name=op.f("ck_staff_members_language_known")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_members")),
    )
    op.create_index(op.f("ix_staff_members_role_level"), "staff_members", ["role", "level"],
                    postgresql_where=sa.text("active"))

    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_deliveries_channel_known")),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')",
                           name=op.f("ck_deliveries_status_known")),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_deliveries_notification_id_notifications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("notification_id", "channel", "address", name=op.f("uq_deliveries_notification_id_channel_address")),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["next_attempt_at", "id"],
                    postgresql_where=sa.text("status IN ('pending', 'sending')"))

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_delivery_attempts_delivery_id_deliveries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
        sa.UniqueConstraint("delivery_id", "attempt", name=op.f("uq_delivery_attempts_delivery_id_attempt")),
    )

    op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"],
                                name=op.f("fk_notification_reads_notification_id_notifications")),
        sa.PrimaryKeyConstraint("notification_id", "user_id", name=op.f("pk_notification_reads")),
    )

    op.create_table(
        "report_runs",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("alerts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_report_runs")),
    )
    op.create_table(
        "report_figures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("numerator", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("denominator", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("alert", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["month"], ["report_runs.month"], ondelete="CASCADE",
                                name=op.f("fk_report_figures_month_report_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_figures")),
        sa.UniqueConstraint("month", "metric", "dimension", name=op.f("uq_report_figures_month_metric_dimension")),
    )
    op.create_index(op.f("ix_report_figures_metric_month"), "report_figures", ["metric", "month"])

    op.create_index(op.f("ix_audit_events_action_occurred_at"), "audit_events", ["action", "occurred_at"])
    op.create_index("ix_approval_tasks_open_due", "approval_tasks", ["due_at", "id"],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_approval_tasks_open_undated", "approval_tasks", ["created_at", "id"],
                    postgresql_where=sa.text("status = 'open' AND due_at IS NULL"))
    op.create_index("ix_receivables_open_followup", "receivables", [sa.text("coalesce(followed_up_at, booked_at)"), "id"],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_transfer_branches_active_due", "transfer_branches", ["step_due", "id"],
                    postgresql_where=sa.text("status IN ('submitted', 'accepted', 'transferring')"))


def downgrade() -> None:
    op.drop_index("ix_transfer_branches_active_due", table_name="transfer_branches")
    op.drop_index("ix_receivables_open_followup", table_name="receivables")
    op.drop_index("ix_approval_tasks_open_undated", table_name="approval_tasks")
    op.drop_index("ix_approval_tasks_open_due", table_name="approval_tasks")
    op.drop_index(op.f("ix_audit_events_action_occurred_at"), table_name="audit_events")
    op.drop_table("report_figures")
    op.drop_table("report_runs")
    op.drop_table("notification_reads")
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("staff_members")
    op.drop_table("case_deadlines")
