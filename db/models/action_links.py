"""Decision links sent by e-mail: one per delivery of a task's notice, for the person it reaches."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class ActionLink(Base):
    """A link that lets ``person`` decide one task without signing in: until ``expires_at``, once.
    The link's text is ``<id>.<HMAC>``; only the id is stored, so the table alone opens nothing."""

    __tablename__ = "action_links"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("deliveries.id"), unique=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.workflow_id"))
    task_key: Mapped[str] = mapped_column(sa.String(100))
    person: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    used_choice: Mapped[str | None] = mapped_column(sa.String(30))
    outcome: Mapped[str | None] = mapped_column(sa.String(30))
    # What the IM holds for it (a Feishu message id, a DingTalk to-do), closed there with the task.
    im_ref: Mapped[str | None] = mapped_column(sa.String(100))
    im_closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.Index(None, "workflow_id", "task_key"),)
