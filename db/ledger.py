"""The receivables ledger: what an employee owes the company, month by month, and what settled it.

Every recovery (a payroll deduction, a repayment, final pay), write-off and reversal is a *claim*:
taken from the open balance at that moment, oldest receivable first, to the fen, never more than
is open, in one transaction with the rows locked, and idempotent on the claimant's (case, step).
Whichever process recovers first, the money is recovered once; the database's check constraint
holds "settled + reversed <= amount" for every receivable whatever the code does. Offboarding's
finance gate reads ``open_receivables``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.base import table
from db.models import Receivable, ReceivableClaim, Settlement

ZERO = Decimal("0.00")

# Built once (every month of every leave books one; every case reads what is open): their
# values are the parameters.
_RECEIVABLES = table(Receivable)
_BOOK = (insert(_RECEIVABLES)
         .on_conflict_do_nothing(index_elements=[_RECEIVABLES.c.employee_id, _RECEIVABLES.c.kind,
                                                 _RECEIVABLES.c.month])
         .returning(_RECEIVABLES.c.id))
_HOLDER = select(_RECEIVABLES.c.workflow_id).where(
    _RECEIVABLES.c.employee_id == bindparam("employee"), _RECEIVABLES.c.kind == bindparam("kind"),
    _RECEIVABLES.c.month == bindparam("month"))
_OPEN = select(func.coalesce(func.sum(_RECEIVABLES.c.amount - _RECEIVABLES.c.settled - _RECEIVABLES.c.reversed), 0)
               ).where(_RECEIVABLES.c.employee_id == bindparam("employee"), _RECEIVABLES.c.status == "open")
_OPEN_OF_CASE = _OPEN.where(_RECEIVABLES.c.workflow_id == bindparam("case"))


def book(session: Session, *, employee_id: str, workflow_id: str, kind: str, month: str,
         amount: Decimal, at: dt.datetime) -> bool:
    """Book one month's receivable for this case: True when it is (now, or already, by a retry of
    the same case); False when another case holds that month (never booked twice)."""
    row = session.execute(_BOOK, {"employee_id": employee_id, "workflow_id": workflow_id, "kind": kind,
                                  "month": month, "amount": amount, "booked_at": at}).first()
    if row is not None:
        return True
    holder = session.scalar(_HOLDER, {"employee": employee_id, "kind": kind, "month": month})
    return holder == workflow_id


def open_receivables(session: Session, employee_id: str) -> list[Receivable]:
    return list(session.scalars(
        select(Receivable).where(Receivable.employee_id == employee_id, Receivable.status == "open")
        .order_by(Receivable.month, Receivable.id)))


def outstanding(session: Session, employee_id: str, workflow_id: str | None = None) -> Decimal:
    if workflow_id is None:
        total = session.execute(_OPEN, {"employee": employee_id}).scalar_one()
    else:
        total = session.execute(_OPEN_OF_CASE, {"employee": employee_id, "case": workflow_id}).scalar_one()
    return Decimal(total).quantize(Decimal("0.01"))


class OverSettlement(ValueError):
    """A settlement larger than what is owed."""


@dataclass(frozen=True)
class Claim:
    """What one claim took: in total, from each owning case, and what stays open after it."""

    amount: Decimal
    by_case: dict[str, Decimal]
    open_after: Decimal


def claim(session: Session, *, claimant: str, step: str, employee_id: str, method: str,
          amount: Decimal | None = None, case: str | None = None, exact: bool = False,
          confirmed_by: str, reference: str | None, at: dt.datetime) -> Claim:
    """Take ``amount`` (everything open when None) off her open receivables, those of ``case``
    only when given, oldest first, with the rows locked: never more than is open at this moment
    (``exact``: refuse with ``OverSettlement`` instead of taking less). One transaction, idempotent
    on (claimant, step): a repeat answers with the first claim."""
    done = session.scalar(select(Settlement).where(Settlement.workflow_id == claimant, Settlement.step == step))
    if done is not None:
        return _claim_of(session, done, employee_id, case)
    stmt = (select(Receivable).where(Receivable.employee_id == employee_id, Receivable.status == "open")
            .order_by(Receivable.month, Receivable.id).with_for_update())
    if case is not None:
        stmt = stmt.where(Receivable.workflow_id == case)
    rows = list(session.scalars(stmt))
    open_total = sum((r.amount - r.settled - r.reversed for r in rows), ZERO)
    wanted = open_total if amount is None else amount
    if exact and wanted > open_total:
        raise OverSettlement(f"{wanted} is {wanted - open_total} more than the {open_total} still open")
    settlement = Settlement(workflow_id=claimant, step=step, employee_id=employee_id, method=method,
                            amount=min(wanted, open_total), confirmed_by=confirmed_by, reference=reference, at=at)
    session.add(settlement)
    session.flush()
    left = settlement.amount
    by_case: dict[str, Decimal] = {}
    for row in rows:
        take = min(left, row.amount - row.settled - row.reversed)
        if take <= ZERO:
            continue
        session.add(ReceivableClaim(settlement_id=settlement.id, receivable_id=row.id, method=method,
                                    reversal=method == "reversal", amount=take, at=at))
        row.followed_up_at = at  # a claim is a follow-up: the sweep stops nagging
        by_case[row.workflow_id] = by_case.get(row.workflow_id, ZERO) + take
        left -= take
    session.flush()
    for row in rows:
        session.refresh(row)  # the trigger moved settled, reversed and status
    return Claim(amount=settlement.amount, by_case=by_case, open_after=open_total - settlement.amount)


def void(session: Session, *, claimant: str, step: str, voided_step: str, confirmed_by: str,
         reference: str | None, at: dt.datetime) -> Claim:
    """Undo the claim ``voided_step`` of ``claimant`` (final pay cancelled because the resignation
    was withdrawn): negative lines give back exactly what it took. Idempotent."""
    original = session.scalar(select(Settlement).where(Settlement.workflow_id == claimant,
                                                       Settlement.step == voided_step))
    if original is None:
        return Claim(amount=ZERO, by_case={}, open_after=ZERO)
    done = session.scalar(select(Settlement).where(Settlement.voids == original.id))
    if done is None:
        done = Settlement(workflow_id=claimant, step=step, employee_id=original.employee_id, method="void",
                          amount=original.amount, confirmed_by=confirmed_by, reference=reference, at=at,
                          voids=original.id)
        session.add(done)
        session.flush()
        lines = session.execute(select(ReceivableClaim.receivable_id, ReceivableClaim.amount)
                                .where(ReceivableClaim.settlement_id == original.id)).all()
        for receivable_id, taken in lines:
            session.add(ReceivableClaim(settlement_id=done.id, receivable_id=receivable_id, method="void",
                                        amount=-taken, at=at))
        session.flush()
    return _claim_of(session, done, original.employee_id, None)


def _claim_of(session: Session, settlement: Settlement, employee_id: str, case: str | None) -> Claim:
    lines = session.execute(select(Receivable.workflow_id, func.sum(ReceivableClaim.amount))
                            .join(Receivable, Receivable.id == ReceivableClaim.receivable_id)
                            .where(ReceivableClaim.settlement_id == settlement.id)
                            .group_by(Receivable.workflow_id)).all()
    return Claim(amount=settlement.amount, by_case={wf: Decimal(total) for wf, total in lines},
                 open_after=outstanding(session, employee_id, case))


def settle(session: Session, *, workflow_id: str, step: str, employee_id: str, method: str, amount: Decimal,
           confirmed_by: str, reference: str | None, at: dt.datetime) -> Decimal:
    """A settlement of the case's own receivables that finance confirmed (exactly that amount, or
    refused); returns what remains open on the case. Idempotent on (workflow id, step)."""
    claim(session, claimant=workflow_id, step=step, employee_id=employee_id, method=method, amount=amount,
          case=workflow_id, exact=True, confirmed_by=confirmed_by, reference=reference, at=at)
    return outstanding(session, employee_id, workflow_id)


def reverse(session: Session, *, workflow_id: str, kind: str, month: str, at: dt.datetime,
            reference: str | None = None) -> bool:
    """Take back a month booked in error (she was at work on that cut-off after all, or what it
    advanced was revoked): only while nothing of it has been settled. True when it was reversed."""
    row = session.scalar(select(Receivable).where(
        Receivable.workflow_id == workflow_id, Receivable.kind == kind, Receivable.month == month,
        Receivable.status == "open", Receivable.settled == 0).with_for_update())
    if row is None:
        return False
    settlement = Settlement(workflow_id=workflow_id, step=f"reverse-{kind}-{month}", employee_id=row.employee_id,
                            method="reversal", amount=row.amount - row.reversed, confirmed_by="system",
                            reference=reference or f"{month} booked while she was back at work", at=at)
    session.add(settlement)
    session.flush()
    session.add(ReceivableClaim(settlement_id=settlement.id, receivable_id=row.id, method="reversal", reversal=True,
                                amount=settlement.amount, at=at))
    session.flush()
    session.refresh(row)
    return True


def booked_months(session: Session, *, workflow_id: str, kind: str) -> dict[str, Decimal]:
    """This case's months still counted (open, settled or written off), with their amounts."""
    rows = session.execute(select(Receivable.month, Receivable.amount).where(
        Receivable.workflow_id == workflow_id, Receivable.kind == kind, Receivable.status != "reversed"))
    return {month: amount for month, amount in rows}
