"""Step markers that make an activity's effect happen once however often it is retried."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class ActivityStep(Base):
    """Marks a (workflow id, step) as done in the same transaction as its effect, so a retried
    activity finds the marker and returns the stored result instead of writing twice."""

    __tablename__ = "activity_steps"

    workflow_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    step: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    result: Mapped[Any | None] = mapped_column(JSONB)
    completed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
