"""Each employee's own data key, wrapped by a master key: destroying it erases her everywhere it
encrypted something (workflow histories, sealed columns), without touching those rows or histories."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class PersonKey(Base):
    """One row per employee and key version. ``wrapped`` is the data key sealed (AES-GCM) under the
    master key ``wrapped_with``; it is NULL once the key is destroyed, which is the erasure."""

    __tablename__ = "person_keys"

    # No foreign key: her key is made before her row commits (an import seals her ID number in the
    # same transaction that inserts her), and it outlives the row's personal columns.
    employee_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    wrapped_with: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    destroyed_by: Mapped[str | None] = mapped_column(sa.String(200))  # the erasure case that destroyed it

    __table_args__ = (
        sa.CheckConstraint("(wrapped IS NULL) = (destroyed_at IS NOT NULL)", name="destroyed_means_no_key"),
    )
