"""Operator notices: official figures entered by one admin and approved by another."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models.columns import Money


class PolicyNotice(Base):
    """An operator notice (``domain.policy.notices``): figures from an official text, entered by one
    admin and approved by another. Its content never changes after entry (a trigger refuses it);
    only the decision (state, by whom, when, why) is written once, from ``entered``."""

    __tablename__ = "policy_notices"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    region: Mapped[str] = mapped_column(sa.String(32))  # province code, or national
    city: Mapped[str | None] = mapped_column(sa.String(32))
    scope: Mapped[str] = mapped_column(sa.String(120))  # two approved notices of a scope never overlap
    effective_from: Mapped[dt.date] = mapped_column(sa.Date)
    effective_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    floor: Mapped[Decimal | None] = mapped_column(Money)
    ceiling: Mapped[Decimal | None] = mapped_column(Money)
    average_wage: Mapped[Decimal | None] = mapped_column(Money)
    minimum_wage: Mapped[Decimal | None] = mapped_column(Money)
    figures: Mapped[Any] = mapped_column(JSONB)  # the checked figures of its kind
    rule: Mapped[Any | None] = mapped_column(JSONB)  # the catalogue rule as entered (None: a calendar)
    source_name: Mapped[str] = mapped_column(sa.String(200))
    source_url: Mapped[str | None] = mapped_column(sa.String(500))
    document_number: Mapped[str | None] = mapped_column(sa.String(80))
    source_material_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # an uploaded copy, by reference
    supersedes: Mapped[int | None] = mapped_column(sa.ForeignKey("policy_notices.id"))
    state: Mapped[str] = mapped_column(sa.String(12), server_default="entered")
    entered_by: Mapped[str] = mapped_column(sa.String(64))
    entered_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    decided_by: Mapped[str | None] = mapped_column(sa.String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('contribution_base', 'contribution_rates', 'housing_fund', "
                        "'holiday_arrangement', 'maternity_leave')", name="kind_known"),
        sa.CheckConstraint("state IN ('entered', 'approved', 'rejected', 'withdrawn')", name="state_known"),
        sa.CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="dates_in_order"),
        sa.CheckConstraint("floor IS NULL OR ceiling IS NULL OR floor <= ceiling", name="floor_not_above_ceiling"),
        sa.CheckConstraint("(state = 'entered') = (decided_by IS NULL)", name="decided_once"),
        sa.CheckConstraint("state <> 'approved' OR decided_by <> entered_by", name="maker_is_not_checker"),
        sa.CheckConstraint("state <> 'withdrawn' OR decided_by = entered_by", name="withdrawn_by_maker"),
        sa.CheckConstraint("state <> 'rejected' OR length(trim(reason)) > 0", name="rejection_has_reason"),
        sa.Index(None, "scope", "state"),
        sa.Index(None, "state", "id"),
    )
