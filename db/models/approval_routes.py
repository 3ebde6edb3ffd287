"""Approver rules a company writes down, one row per version of a decision's route."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class ApprovalRouteVersion(Base):
    """Version ``version`` of the route of ``decision`` (``domain.approval_routes.Route``), in force
    from ``effective_from`` until a later version begins. Never edited: a change is a new version,
    and a case keeps the version it resolved on its first day."""

    __tablename__ = "approval_routes"

    decision: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    effective_from: Mapped[dt.date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(200))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("ix_approval_routes_in_force", "decision", "effective_from"),)
