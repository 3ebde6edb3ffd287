"""The receivables ledger: money she owes is recovered exactly once, whichever process recovers it.

Seed 000's auditor case: a payroll during her notice period deducted 1,578.00 of a 7,890.00
maternity advance, then final pay deducted the full 7,890.00 again from a figure taken at notice.
Here every recovery path runs against one advance in every order, each claim is repeated (retried
activities), and the database itself refuses a claim line past what is open.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db import ledger
from db.models import Receivable, ReceivableClaim, Settlement
from tests.processes.support import add_employee

EMP, CASE, OFFBOARDING = "E7890", "maternity-leave-E7890-2026-03-01", "offboarding-E7890-2026-11-02"
MONTHS = {"2026-06": Decimal("2630.00"), "2026-07": Decimal("2630.00"), "2026-08": Decimal("2630.00")}
BOOKED = sum(MONTHS.values())  # 7,890.00
AT = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _book(session: Session) -> None:
    for month, amount in MONTHS.items():
        assert ledger.book(session, employee_id=EMP, workflow_id=CASE, kind="maternity_advance", month=month,
                           amount=amount, at=AT)
    session.flush()


# Each path as the process that takes it calls the ledger; the result is what it recovered (or None: refused).
def payroll(session: Session) -> Decimal | None:
    """Finance confirms a deduction of 1,578.00 on the maternity case: exactly that, or refused."""
    try:
        before = ledger.outstanding(session, EMP, CASE)
        after = ledger.settle(session, workflow_id=CASE, step="payroll-2026-10", employee_id=EMP,
                              method="payroll_deduction", amount=Decimal("1578.00"), confirmed_by="fin.zhao",
                              reference="payroll 2026-10", at=AT)
        return before - after
    except ledger.OverSettlement:
        return None


def repayment(session: Session) -> Decimal | None:
    try:
        before = ledger.outstanding(session, EMP, CASE)
        after = ledger.settle(session, workflow_id=CASE, step="repaid", employee_id=EMP, method="repayment",
                              amount=Decimal("1000.00"), confirmed_by="fin.zhao", reference="bank transfer", at=AT)
        return before - after
    except ledger.OverSettlement:
        return None


def final_pay(session: Session) -> Decimal | None:
    """Offboarding's final pay deducts what is open at its own moment, at most the agreed 7,890.00."""
    return ledger.claim(session, claimant=OFFBOARDING, step="final-pay", employee_id=EMP, method="final_pay",
                        amount=BOOKED, confirmed_by="system", reference="agreement D-17", at=AT).amount


def write_off(session: Session) -> Decimal | None:
    return ledger.claim(session, claimant=CASE, step="write-off", employee_id=EMP, method="write_off",
                        case=CASE, confirmed_by="fin.zhao", reference="approved by finance and hr_manager",
                        at=AT).amount


def reversal(session: Session) -> Decimal | None:
    """The August month booked in error; allowed only while nothing of it was settled."""
    return MONTHS["2026-08"] if ledger.reverse(session, workflow_id=CASE, kind="maternity_advance",
                                                month="2026-08", at=AT) else None


PATHS: dict[str, Callable[[Session], Decimal | None]] = {
    "payroll": payroll, "repayment": repayment, "final_pay": final_pay, "write_off": write_off, "reversal": reversal}


def _lines(session: Session) -> dict[str, Decimal]:
    rows = session.execute(select(ReceivableClaim.method, func.sum(ReceivableClaim.amount))
                           .group_by(ReceivableClaim.method)).all()
    return {method: Decimal(total) for method, total in rows}


def _columns(session: Session) -> tuple[Decimal, Decimal]:
    settled, reversed_ = session.execute(select(func.sum(Receivable.settled), func.sum(Receivable.reversed))).one()
    return Decimal(settled), Decimal(reversed_)


@pytest.fixture
def employee(session_factory: sessionmaker[Session]) -> str:
    add_employee(session_factory, EMP)
    return EMP


def test_every_recovery_path_in_every_order_recovers_at_most_once(employee, engine) -> None:
    orders = list(itertools.permutations(PATHS))
    for order in orders:
        with engine.connect() as conn:
            outer = conn.begin()
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            _book(session)
            taken: dict[str, Decimal | None] = {}
            for name in order:
                open_before = ledger.outstanding(session, EMP)
                got = PATHS[name](session)
                taken[name] = got
                # The same call again (a retried activity) takes nothing more.
                state = (_columns(session), session.scalar(select(func.count()).select_from(ReceivableClaim)))
                PATHS[name](session)
                assert (_columns(session), session.scalar(select(func.count()).select_from(ReceivableClaim))) == state
                if name == "final_pay":  # exactly what was open at its moment
                    assert got == open_before, (order, name, got, open_before)
                if name == "write_off":
                    assert got == open_before, (order, name)
                if got is None:
                    assert name in ("payroll", "repayment", "reversal"), (order, name)
            settled, reversed_ = _columns(session)
            lines = _lines(session)
            recovered = sum((v for k, v in lines.items() if k not in ("reversal", "void")), Decimal("0.00"))
            assert recovered == settled and lines.get("reversal", Decimal("0.00")) == reversed_, order
            assert settled + reversed_ <= BOOKED, order
            assert sum(v for v in taken.values() if v is not None) == settled + reversed_, (order, taken)
            # Whatever ran first, after a write-off or a final pay nothing is left open.
            assert ledger.outstanding(session, EMP) == Decimal("0.00"), (order, taken)
            # The auditor's case: the payroll deduction and final pay never add up to more than the advance.
            if taken["payroll"] is not None and taken["final_pay"]:
                assert taken["payroll"] + taken["final_pay"] <= BOOKED - reversed_, (order, taken)
            session.close()
            outer.rollback()
    assert len(orders) == 120


def test_the_auditors_case_deducts_the_rest_not_the_figure_taken_at_notice(employee, session_factory) -> None:
    with session_factory.begin() as s:
        _book(s)
    with session_factory.begin() as s:
        assert payroll(s) == Decimal("1578.00")  # during her notice period
    with session_factory.begin() as s:
        assert final_pay(s) == Decimal("6312.00")  # 7,890.00 agreed, 6,312.00 still open on her last day
    with session_factory() as s:
        assert _columns(s) == (BOOKED, Decimal("0.00"))
        assert set(s.scalars(select(Receivable.status))) == {"settled"}
        assert ledger.outstanding(s, EMP) == Decimal("0.00")


def test_a_payroll_deduction_after_final_pay_is_refused(employee, session_factory) -> None:
    with session_factory.begin() as s:
        _book(s)
        assert final_pay(s) == BOOKED
    with session_factory.begin() as s:
        assert payroll(s) is None  # refused: final pay recovered it all, she must not pay twice
        assert s.scalar(select(func.count()).select_from(Settlement).where(Settlement.step == "payroll-2026-10")) == 0


def test_a_voided_final_pay_gives_back_exactly_what_it_took(employee, session_factory) -> None:
    with session_factory.begin() as s:
        _book(s)
        assert payroll(s) == Decimal("1578.00")
        assert final_pay(s) == Decimal("6312.00")
    for _ in range(2):  # the undo is idempotent
        with session_factory.begin() as s:
            undone = ledger.void(s, claimant=OFFBOARDING, step="final-pay-voided", voided_step="final-pay",
                                 confirmed_by="system", reference="resignation withdrawn", at=AT)
            assert undone.by_case == {CASE: Decimal("-6312.00")}
    with session_factory() as s:
        assert ledger.outstanding(s, EMP) == Decimal("6312.00")
        # The payroll deduction stays where it was (the oldest month); the rest is open again.
        assert dict(s.execute(select(Receivable.month, Receivable.settled)).all()) == {
            "2026-06": Decimal("1578.00"), "2026-07": Decimal("0.00"), "2026-08": Decimal("0.00")}
        assert set(s.scalars(select(Receivable.status))) == {"open"}


def test_the_database_refuses_a_claim_line_past_what_is_open(employee, session_factory) -> None:
    """Whatever the code does: a line written by hand past the balance fails as a whole."""
    with session_factory.begin() as s:
        _book(s)
        first = s.scalar(select(Receivable.id).order_by(Receivable.month))
    with pytest.raises(IntegrityError, match="claims_within_amount"), session_factory.begin() as s:
        s.add(ReceivableClaim(receivable_id=first, method="payroll_deduction", amount=Decimal("2630.01"), at=AT))
        s.flush()
    with session_factory.begin() as s:
        s.add(ReceivableClaim(receivable_id=first, method="payroll_deduction", amount=Decimal("2630.00"), at=AT))
    with pytest.raises(IntegrityError, match="claims_within_amount"), session_factory.begin() as s:
        s.add(ReceivableClaim(receivable_id=first, method="write_off", amount=Decimal("0.01"), at=AT))
        s.flush()
    for statement in ("UPDATE receivable_claims SET amount = 1", "DELETE FROM receivable_claims",
                      "TRUNCATE receivable_claims CASCADE"):
        with pytest.raises(DBAPIError, match="append-only"), session_factory.begin() as s:
            s.execute(text(statement))


def test_two_processes_claiming_at_once_take_each_fen_once(employee, session_factory) -> None:
    with session_factory.begin() as s:
        _book(s)
    results: dict[str, Decimal | None] = {}
    start = threading.Barrier(2)

    def run(name: str) -> None:
        start.wait()
        with session_factory.begin() as s:
            results[name] = (final_pay if name == "final_pay" else write_off)(s)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("final_pay", "write_off")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results.values()) == [Decimal("0.00"), BOOKED]  # one took everything, the other nothing
    with session_factory() as s:
        assert _columns(s) == (BOOKED, Decimal("0.00"))
