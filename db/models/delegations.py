"""Delegations: one person's decisions made by another for a period, within named processes."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Delegation(Base):
    """``delegate`` acts for ``delegator`` (with the role she held when it was given) from
    ``starts_at`` up to ``ends_at``, in the processes listed (none: every process), unless revoked.
    Each act is audited as the delegate's, on behalf of the delegator."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    delegator: Mapped[str] = mapped_column(sa.ForeignKey("staff_members.user_id"))
    delegate: Mapped[str] = mapped_column(sa.ForeignKey("staff_members.user_id"))
    role: Mapped[str] = mapped_column(sa.String(30))
    processes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(20)), server_default="{}")
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="period_order"),
        sa.CheckConstraint("delegator <> delegate", name="not_to_oneself"),
        sa.Index("ix_delegations_delegate", "delegate", "delegator", postgresql_where=sa.text("revoked_at IS NULL")),
    )
