"""Decision links sent by e-mail and IM: one per delivery of a task's notice, for the person it
reaches; and the provider accounts bound to logins at their first sign-in."""

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
    im_close_attempts: Mapped[int] = mapped_column(server_default="0")
    im_next_try_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (
        sa.Index(None, "workflow_id", "task_key"),
        # the relay's every round: cards and to-dos still open in an IM
        sa.Index("ix_action_links_im_open", "im_next_try_at", "id",
                 postgresql_where=sa.text("im_ref IS NOT NULL AND im_closed_at IS NULL")),
    )


class SignInBinding(Base):
    """The provider's fixed id for the account that first signed in as ``login`` through ``provider``:
    a later sign-in as that login from another account is refused (``hrflow sign-in unbind`` lets
    an administrator release a login whose account was replaced)."""

    __tablename__ = "sign_in_bindings"

    provider: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    bound_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
