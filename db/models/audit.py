"""The tamper-evident operation log, apart because it is append-only and hash-chained: the events
(one chain per case), each chain's head, and the seals that fold the heads into one global chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class AuditEvent(Base):
    """Append-only, hash-chained operation log; a trigger rejects UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(sa.String(64))
    actor_role: Mapped[str] = mapped_column(sa.String(30))
    action: Mapped[str] = mapped_column(sa.String(80))
    workflow_id: Mapped[str | None] = mapped_column(sa.String(200))
    subject: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[Any | None] = mapped_column(JSONB)
    after: Mapped[Any | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    on_behalf_of: Mapped[str | None] = mapped_column(sa.String(64))  # the delegator, when a delegate acted
    chain: Mapped[str | None] = mapped_column(sa.String(210))  # None: a row from before per-case chains
    seq: Mapped[int | None] = mapped_column(sa.BigInteger)  # the row's place in its chain, from 1
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index(None, "chain", "seq", unique=True),
        sa.Index(None, "workflow_id", "id"),
        sa.Index(None, "subject", "id"),
        sa.Index(None, "action", "occurred_at"),  # the monthly report reads returns and departures by action
    )


class AuditChainHead(Base):
    """The last row of each chain, locked by the append that extends it (never by another chain's).
    ``sealed_seq`` is how far the last seal covers the chain; the partial index finds the heads
    that moved since, which is all the next seal reads."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(sa.String(210), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    head_hash: Mapped[str] = mapped_column(sa.String(64))
    sealed_seq: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")

    __table_args__ = (
        sa.Index("ix_audit_chain_heads_unsealed", "chain", postgresql_where=sa.text("seq > sealed_seq")),
    )


class AuditSeal(Base):
    """One link of the global chain: the heads that moved since the previous seal, hashed with it.
    Append-only like the events."""

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    sealed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    heads: Mapped[dict[str, Any]] = mapped_column(JSONB)  # {chain: [seq, hash]}
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (
        sa.Index(None, "heads", postgresql_using="gin"),  # the newest seal that holds one case's chain
    )
