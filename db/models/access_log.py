"""Who saw a person's data in full: one row per unmasked value shown, per document sent, per export.

Apart from the audit trail because it answers another question (PIPL: whose data did which member of
staff read, and why) and grows with reads, not changes. Append-only like the audit trail.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

ACCESS_KINDS = ("resident_id_number", "name", "document", "export")
_ACCESS_KINDS_SQL = "what IN (" + ", ".join(f"'{k}'" for k in ACCESS_KINDS) + ")"


class PersonalDataAccess(Base):
    """One time personal data left hrflow unmasked; a trigger refuses UPDATE, DELETE and TRUNCATE.
    ``employee_id`` is no foreign key: the log outlives the record it is about."""

    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(sa.String(64))
    actor_role: Mapped[str] = mapped_column(sa.String(30))
    on_behalf_of: Mapped[str | None] = mapped_column(sa.String(64))  # the delegator, when a delegate read
    employee_id: Mapped[str] = mapped_column(sa.String(32))  # whose data
    what: Mapped[str] = mapped_column(sa.String(30))
    detail: Mapped[str | None] = mapped_column(sa.String(300))  # which document, which file
    purpose: Mapped[str | None] = mapped_column(sa.String(200))  # the case it was read for
    request_id: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.CheckConstraint(_ACCESS_KINDS_SQL, name="what_known"),
        sa.Index(None, "employee_id", "at"),
        sa.Index(None, "actor", "at"),
    )
