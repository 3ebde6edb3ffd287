"""Activities of a non-compete: pay a month's (or the release's) compensation, and tell the former
employee what is expected of her.

A payment is one row per agreement, kind and month (a unique key), inserted with ON CONFLICT DO
NOTHING together with its audit row: a retried or replayed payday can never pay twice.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.unit import DbActivities, append_audit, db_step
from db.models import NonCompetePayment
from db.steps import insert_once
from domain.contracts.non_compete import PAY, Payment


class NonCompeteActivities(DbActivities):
    @activity.defn(name=PAY.name)
    def pay(self, req: Payment) -> bool:
        """Record the payment once; True when this call recorded it, False when it already was."""
        with db_step(self._sessions) as session:
            if not insert_once(session, NonCompetePayment,
                               [NonCompetePayment.agreement_id, NonCompetePayment.kind, NonCompetePayment.month],
                               agreement_id=req.agreement_id, employee_id=req.employee_id, month=req.month,
                               kind=req.kind, amount=req.amount, paid_at=req.at):
                return False
            action = "non_compete.paid" if req.kind == "monthly" else "non_compete.release_compensation_paid"
            append_audit(session, req.actor, action, workflow_id=req.agreement_id, at=req.at, subject=req.employee_id,
                         after={"month": req.month, "kind": req.kind, "amount": req.amount})
            return True

    def all(self) -> list[Any]:
        return [self.pay]
