"""The receivables ledger: what an employee owes the company, month by month, and what settled it.

Settlements are applied oldest receivable first, to the fen; a receivable is ``settled`` when its
settled amount reaches its amount. Offboarding's finance gate reads ``open_receivables``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import Receivable, Settlement

ZERO = Decimal("0.00")


def book(session: Session, *, employee_id: str, workflow_id: str, kind: str, month: str,
         amount: Decimal, at: dt.datetime) -> bool:
    """Book one month's receivable for this case: True when it is (now, or already, by a retry of
    the same case); False when another case holds that month (never booked twice)."""
    row = session.execute(
        insert(Receivable).values(employee_id=employee_id, workflow_id=workflow_id, kind=kind, month=month,
                                  amount=amount, booked_at=at)
        .on_conflict_do_nothing(index_elements=[Receivable.employee_id, Receivable.kind, Receivable.month])
        .returning(Receivable.id)
    ).first()
    if row is not None:
        return True
    holder = session.scalar(select(Receivable.workflow_id).where(
        Receivable.employee_id == employee_id, Receivable.kind == kind, Receivable.month == month))
    return holder == workflow_id


def open_receivables(session: Session, employee_id: str) -> list[Receivable]:
    return list(session.scalars(
        select(Receivable).where(Receivable.employee_id == employee_id, Receivable.status == "open")
        .order_by(Receivable.month, Receivable.id)))


def outstanding(session: Session, employee_id: str, workflow_id: str | None = None) -> Decimal:
    stmt = select(func.coalesce(func.sum(Receivable.amount - Receivable.settled), 0)).where(
        Receivable.employee_id == employee_id, Receivable.status == "open")
    if workflow_id is not None:
        stmt = stmt.where(Receivable.workflow_id == workflow_id)
    return Decimal(session.scalar(stmt)).quantize(Decimal("0.01"))


class OverSettlement(ValueError):
    """A settlement larger than what is owed."""


def settle(session: Session, *, workflow_id: str, step: str, employee_id: str, method: str, amount: Decimal,
           confirmed_by: str, reference: str | None, at: dt.datetime) -> Decimal:
    """Apply a confirmed settlement to the case's open receivables, oldest first; returns what
    remains. Idempotent on (workflow id, step)."""
    done = session.execute(
        insert(Settlement).values(workflow_id=workflow_id, step=step, employee_id=employee_id, method=method,
                                  amount=amount, confirmed_by=confirmed_by, reference=reference, at=at)
        .on_conflict_do_nothing(index_elements=[Settlement.workflow_id, Settlement.step])
        .returning(Settlement.id)
    ).first()
    if done is None:
        return outstanding(session, employee_id, workflow_id)
    rows = session.scalars(
        select(Receivable).where(Receivable.workflow_id == workflow_id, Receivable.status == "open")
        .order_by(Receivable.month, Receivable.id).with_for_update())
    left = amount
    for row in rows:
        take = min(left, row.amount - row.settled)
        row.settled += take
        row.followed_up_at = at  # a confirmed settlement is a follow-up: the sweep stops nagging
        left -= take
        if row.settled == row.amount:
            row.status = "written_off" if method == "write_off" else "settled"
        if left == ZERO:
            break
    if left > ZERO:
        raise OverSettlement(f"{amount} is {left} more than the case's open receivables")
    return outstanding(session, employee_id, workflow_id)


def reverse(session: Session, *, workflow_id: str, kind: str, month: str) -> bool:
    """Take back a month booked in error (she was at work on that cut-off after all): only while
    nothing of it has been settled. True when it was reversed."""
    row = session.scalar(select(Receivable).where(
        Receivable.workflow_id == workflow_id, Receivable.kind == kind, Receivable.month == month,
        Receivable.status == "open", Receivable.settled == 0).with_for_update())
    if row is None:
        return False
    row.status = "reversed"
    return True


def booked_months(session: Session, *, workflow_id: str, kind: str) -> dict[str, Decimal]:
    """This case's months still counted (open, settled or written off), with their amounts."""
    rows = session.execute(select(Receivable.month, Receivable.amount).where(
        Receivable.workflow_id == workflow_id, Receivable.kind == kind, Receivable.status != "reversed"))
    return {month: amount for month, amount in rows}
