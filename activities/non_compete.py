"""Activities of a non-compete: pay a month's (or the release's) compensation, and tell the former
employee what is expected of her.

A payment is one row per agreement, kind and month (a unique key), inserted with ON CONFLICT DO
NOTHING together with its audit row: a retried or replayed payday can never pay twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.cases import Actor
from activities import outbox
from activities.outbox import Notify
from activities.unit import db_step
from db import audit
from db.models import NonCompetePayment


class Payment(BaseModel):
    agreement_id: str  # the non-compete workflow id
    employee_id: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    kind: Literal["monthly", "release_extra"]
    amount: Decimal = Field(ge=0, decimal_places=2)
    at: dt.datetime
    actor: Actor = Field(default_factory=Actor)




class NonCompeteActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    @activity.defn(name="non_compete.pay")
    def pay(self, req: Payment) -> bool:
        """Record the payment once; True when this call recorded it, False when it already was."""
        with db_step(self._sessions) as session:
            row = session.execute(
                insert(NonCompetePayment)
                .values(agreement_id=req.agreement_id, employee_id=req.employee_id, month=req.month,
                        kind=req.kind, amount=req.amount, paid_at=req.at)
                .on_conflict_do_nothing(index_elements=[NonCompetePayment.agreement_id, NonCompetePayment.kind,
                                                        NonCompetePayment.month])
                .returning(NonCompetePayment.id)
            ).first()
            if row is None:
                return False
            action = "non_compete.paid" if req.kind == "monthly" else "non_compete.release_compensation_paid"
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action=action, workflow_id=req.agreement_id,
                subject=req.employee_id, request_id=req.actor.request_id,
                after={"month": req.month, "kind": req.kind, "amount": req.amount}), at=req.at)
            return True

    @activity.defn(name="non_compete.notify")
    def notify(self, req: Notify) -> None:
        outbox.write(self._sessions, req)

    def all(self) -> list[Any]:
        return [self.pay, self.notify]
