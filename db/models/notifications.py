"""The outbox and its delivery trail: one notification, its sends per address, who read it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Notification(Base):
    """The outbox: processes write here; the delivery sweep sends each row once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(250), unique=True)
    recipient_kind: Mapped[str] = mapped_column(sa.String(10))  # role, user, employee
    recipient: Mapped[str] = mapped_column(sa.String(64))
    template: Mapped[str] = mapped_column(sa.String(60))
    params: Mapped[Any] = mapped_column(JSONB)
    workflow_id: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(10), server_default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.CheckConstraint("recipient_kind IN ('role', 'user', 'employee')", name="recipient_kind_known"),
        sa.Index("ix_notifications_pending", "created_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index(None, "recipient_kind", "recipient", "id"),
    )


class Delivery(Base):
    """One notification to one address over one channel: retried with backoff until sent, never
    sent again once it is (the row is claimed before the send and marked after)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(sa.String(10))  # email, webhook, wecom, feishu, dingtalk (an IM message), sms
    address: Mapped[str] = mapped_column(sa.String(300))
    person: Mapped[str | None] = mapped_column(sa.String(64))  # the login or employee number the address is of
    language: Mapped[str] = mapped_column(sa.String(5))
    status: Mapped[str] = mapped_column(sa.String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("notification_id", "channel", "address"),
        sa.CheckConstraint("channel IN ('email', 'webhook', 'wecom', 'feishu', 'dingtalk', 'sms')", name="channel_known"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status_known"),
        sa.Index("ix_deliveries_due", "next_attempt_at", "id", postgresql_where=sa.text("status IN ('pending', 'sending')")),
    )


class DeliveryAttempt(Base):
    """Every try of a delivery, with what the server answered: the trail an operator reads."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("deliveries.id"))
    attempt: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(sa.String(10))  # sent, error
    detail: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("delivery_id", "attempt"),)


class NotificationRead(Base):
    """In-app: who has read which notification (a role's notification is read per person)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
