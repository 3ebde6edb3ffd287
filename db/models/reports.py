"""The monthly risk and compliance report as computed: the run and its figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money


class ReportRun(Base):
    """A computed monthly risk and compliance report: when, with which thresholds, what alerted."""

    __tablename__ = "report_runs"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    computed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    thresholds: Mapped[Any] = mapped_column(JSONB)
    alerts: Mapped[Any] = mapped_column(JSONB)


class ReportFigure(Base):
    """One figure of a monthly report: a metric for one dimension (a department, a position, an
    ageing bucket), with the counts it came from so a reader can check it."""

    __tablename__ = "report_figures"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    month: Mapped[str] = mapped_column(sa.ForeignKey("report_runs.month", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(sa.String(40))
    dimension: Mapped[str] = mapped_column(sa.String(100))  # department, position, bucket or "all"
    value: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 4))
    numerator: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    denominator: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))
    alert: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.text("false"))

    __table_args__ = (sa.UniqueConstraint("month", "metric", "dimension"), sa.Index(None, "metric", "month"))


class ReportMember(Base):
    """One person, case or receivable behind a figure of a monthly report, stored with the figure
    so the list a reader opens is the one the figure was counted from, not today's state.

    ``counted`` says whether the member is in the figure's numerator (a mother who left, an advance
    still open); a figure whose denominator is a list (the mothers who returned) keeps the others
    too. ``amount`` and ``outstanding`` are the yuan the figure summed, where it summed yuan."""

    __tablename__ = "report_members"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    month: Mapped[str] = mapped_column(sa.ForeignKey("report_runs.month", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(sa.String(40))
    dimension: Mapped[str] = mapped_column(sa.String(100))
    employee_id: Mapped[str | None] = mapped_column(sa.String(32))
    workflow_id: Mapped[str | None] = mapped_column(sa.String(200))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    outstanding: Mapped[Decimal | None] = mapped_column(Money)
    counted: Mapped[bool] = mapped_column(sa.Boolean)
    facts: Mapped[Any] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))

    __table_args__ = (sa.Index(None, "month", "metric", "dimension", "id"),)
