"""One employee, one truth: what one process recovers of her money, no other recovers again.

Seed 000, as an auditor tried it end to end: she returns from maternity leave owing the advances,
resigns, a payroll during her notice period deducts part of them, and final pay deducts, with her
written agreement, what she still owes on her last day: not the figure of the risk report at notice.
In the other order, final pay recovers it all and a later payroll deduction is refused.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from db.models import Receivable, ReceivableClaim
from domain.roles import Role
from tests.processes import test_maternity as maternity
from tests.processes import test_offboarding as offboarding
from tests.processes.support import env_today, record_history, until

HR, FINANCE, IT, MANAGER = "hr.li", "fin.zhao", "it.qian", "mgr.wang"


async def _returned_owing(api, auth, env, emp: str) -> tuple[str, Decimal]:
    """Her leave with three months advanced, then back at work: the deduction is running."""
    mwf, v = await maternity.start_leave(api, auth, env, emp)
    await until(env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=95))
    v = await maternity.wait_view(api, auth, mwf, lambda v: len(v["advances_booked"]) >= 3)
    r = await maternity.post(api, auth, mwf, "return", Role.HR_SPECIALIST, HR, {"date": (await env_today(env)).isoformat()})
    assert r.status_code == 200, r.text
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "deducting")
    return mwf, Decimal(v["outstanding"])


async def _clear_for_last_day(api, auth, wf: str) -> None:
    for role, user, gate, key, outcome in ((Role.EMPLOYEE, offboarding.RECEIVER, "handover", "clients", "handed_over"),
                                           (Role.IT, IT, "it", "accounts", "revoked")):
        r = await offboarding.sign(api, auth, wf, role, user, gate, key, outcome)
        assert r.status_code == 200, r.text


def _ledger(session_factory, emp: str) -> tuple[Decimal, Decimal, int]:
    with session_factory() as s:
        booked, settled = s.execute(select(func.sum(Receivable.amount), func.sum(Receivable.settled))
                                    .where(Receivable.employee_id == emp)).one()
        lines = s.scalar(select(func.count()).select_from(ReceivableClaim).join(
            Receivable, Receivable.id == ReceivableClaim.receivable_id).where(Receivable.employee_id == emp))
    return Decimal(booked), Decimal(settled), lines


async def test_a_payroll_deduction_in_notice_then_final_pay_recovers_each_fen_once(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    mwf, owed = await _returned_owing(api, auth, temporal_env, emp)
    notice = await env_today(temporal_env)
    wf = (await offboarding.start(api, auth, emp, notice))["workflow_id"]
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])
    assert Decimal(o["risk"]["receivables_outstanding"]) == owed  # the figure at notice

    # Finance signs her written agreement to deduct from final pay what she owes ...
    r = await offboarding.sign(api, auth, wf, Role.FINANCE, FINANCE, "finance", "receivables", "deducted_by_agreement",
                               agreed_in_writing=True, note="deduction agreement D-17")
    assert r.status_code == 200, r.text
    # ... and the October payroll, still in her notice period, deducts part of it on the maternity case.
    part = Decimal("1053.00")
    r = await maternity.post(api, auth, mwf, "deductions", Role.FINANCE, FINANCE, {"amount": str(part),
                                                                                   "reference": "payroll 2026-10"})
    assert r.status_code == 200 and Decimal(r.json()["outstanding"]) == owed - part, r.text

    await _clear_for_last_day(api, auth, wf)
    await until(temporal_env, dt.date.fromisoformat(o["last_day"]) + dt.timedelta(days=1))
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["final_pay"])
    # Final pay deducts what was open on her last day, not the 3 months of the risk report.
    assert Decimal(o["final_pay"]["agreed_deductions"]) == owed - part
    receivables = next(i for i in o["items"] if i["key"] == "receivables")
    assert Decimal(receivables["amount"]) == owed - part
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "closed")
    assert Decimal(v["outstanding"]) == 0 and Decimal(v["settled"]) == owed
    booked, settled, _ = _ledger(session_factory, emp)
    assert booked == settled == owed  # payslips (payroll + final pay) and ledger agree: she paid it once
    await record_history(temporal_env.client, wf, "offboarding", "payroll_in_notice_then_final_pay")
    await record_history(temporal_env.client, mwf, "maternity", "recovered_by_payroll_and_final_pay")


async def test_after_final_pay_recovered_it_all_a_payroll_deduction_is_refused(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    mwf, owed = await _returned_owing(api, auth, temporal_env, emp)
    notice = await env_today(temporal_env)
    wf = (await offboarding.start(api, auth, emp, notice, kind="probation_resignation"))["workflow_id"]
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])
    r = await offboarding.sign(api, auth, wf, Role.FINANCE, FINANCE, "finance", "receivables", "deducted_by_agreement",
                               agreed_in_writing=True, note="deduction agreement D-18")
    assert r.status_code == 200, r.text
    await _clear_for_last_day(api, auth, wf)
    await until(temporal_env, dt.date.fromisoformat(o["last_day"]) + dt.timedelta(days=1))
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["final_pay"])
    assert Decimal(o["final_pay"]["agreed_deductions"]) == owed
    before = _ledger(session_factory, emp)

    # The payroll run after her last day still had the deduction on file: refused, not recovered twice.
    r = await maternity.post(api, auth, mwf, "deductions", Role.FINANCE, FINANCE, {"amount": "1053.00",
                                                                                   "reference": "payroll 2026-12"})
    assert r.status_code == 409, r.text
    assert _ledger(session_factory, emp) == before
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "closed")
    assert Decimal(v["settled"]) == owed
