"""Cross-province transfers: the application, its branches per insurance type, materials, reviews."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Transfer(Base):
    """A cross-province transfer of social insurance and housing fund, as HR and the stats see it."""

    __tablename__ = "transfers"

    workflow_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    employee_id: Mapped[str] = mapped_column(sa.ForeignKey("employees.employee_id"))
    department: Mapped[str] = mapped_column(sa.String(100))
    origin_province: Mapped[str] = mapped_column(sa.String(32))
    origin_city: Mapped[str] = mapped_column(sa.String(32))
    destination_province: Mapped[str] = mapped_column(sa.String(32))
    destination_city: Mapped[str] = mapped_column(sa.String(32))
    types: Mapped[list[str]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(sa.Text)
    applicant: Mapped[str] = mapped_column(sa.String(64))
    stage: Mapped[str] = mapped_column(sa.String(30))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index(None, "created_at"), sa.Index(None, "stage", "updated_at"))


class TransferBranch(Base):
    """One insurance type's progress within a transfer."""

    __tablename__ = "transfer_branches"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("transfers.workflow_id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    current_step: Mapped[str | None] = mapped_column(sa.String(40))
    step_due: Mapped[dt.date | None] = mapped_column(sa.Date)
    started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "kind"),
        sa.CheckConstraint("status IN ('awaiting_review', 'submitted', 'accepted', 'transferring', 'completed',"
                        " 'rejected', 'cancelled')", name="status_known"),
        sa.Index(None, "kind", "completed_at"),
        sa.Index("ix_transfer_branches_active_due", "step_due", "id",
              postgresql_where=sa.text("status IN ('submitted', 'accepted', 'transferring')")),
    )


class TransferMaterial(Base):
    """An uploaded document, kept in the database: never on a path built from its file name."""

    __tablename__ = "transfer_materials"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("transfers.workflow_id"))
    code: Mapped[str] = mapped_column(sa.String(60))  # the requirement it satisfies
    filename: Mapped[str] = mapped_column(sa.String(255))  # as the uploader named it; display only
    content_type: Mapped[str] = mapped_column(sa.String(40))  # sniffed from the bytes
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)  # sealed under her key when sealed_with is set
    sealed_with: Mapped[str | None] = mapped_column(sa.String(80))  # that key's id (db.materials)
    uploaded_by: Mapped[str] = mapped_column(sa.String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    current: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("true"))

    __table_args__ = (sa.Index(None, "workflow_id", "code"),)


class TransferReview(Base):
    """An HR decision on a transfer application; rejection reasons feed the statistics."""

    __tablename__ = "transfer_reviews"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("transfers.workflow_id"))
    decision: Mapped[str] = mapped_column(sa.String(10))
    reason_code: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("decision IN ('approved', 'rejected')", name="decision_known"),
        sa.Index(None, "decision", "at"),
        sa.Index(None, "workflow_id"),  # rejection statistics join reviews to the period's transfers
    )
