"""Readable workflow ids and the request each was given for, so a retried request finds its case."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class CaseSequence(Base):
    """Per-prefix counters for readable workflow ids (``si-change-E1001-3``)."""

    __tablename__ = "case_sequences"

    prefix: Mapped[str] = mapped_column(sa.String(150), primary_key=True)
    last: Mapped[int] = mapped_column(sa.BigInteger)


class CaseRequest(Base):
    """Which workflow id an API request was given, so a retried request reaches the same case."""

    __tablename__ = "case_requests"

    request_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
