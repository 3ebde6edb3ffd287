"""One employee, one truth: what one process recovers of her money, no other recovers again.

Seed 000, as an auditor tried it end to end: she returns from maternity leave owing the advances,
resigns, a payroll during her notice period deducts part of them, and final pay deducts, with her
written agreement, what she still owes on her last day: not the figure of the risk report at notice.
In the other order, final pay recovers it all and a later payroll deduction is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.models import ApprovalTask, Employee, Notification, Receivable, ReceivableClaim
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from tests.processes import support
from tests.processes import test_maternity as maternity
from tests.processes import test_offboarding as offboarding
from tests.processes.support import env_today, eventually, record_history, until

HR, FINANCE, IT, MANAGER = "hr.li", "fin.zhao", "it.qian", "mgr.wang"


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test, starting today: each test runs months of a case (``support.time_skipping_env``)."""
    async with support.time_skipping_env(codec) as env:
        yield env


async def _returned_owing(api, auth, env, emp: str) -> tuple[str, Decimal]:
    """Her leave with three months advanced, then back at work: the deduction is running."""
    mwf, v = await maternity.start_leave(api, auth, env, emp)
    await until(env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=95))
    v = await maternity.wait_view(api, auth, mwf, lambda v: len(v["advances_booked"]) >= 3)
    r = await maternity.post(api, auth, mwf, "return", Role.HR_SPECIALIST, HR, {"date": (await env_today(env)).isoformat()})
    assert r.status_code == 200, r.text
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "deducting")
    return mwf, Decimal(v["outstanding"])


async def _resigning_after_return(api, auth, env, emp: str) -> tuple[str, Decimal, str, dict]:
    """Back from leave and owing her advances, she resigns in probation (three days' notice):
    the maternity case, what she owes, the offboarding case and its first view with the risk."""
    mwf, owed = await _returned_owing(api, auth, env, emp)
    notice = await env_today(env)
    wf = (await offboarding.start(api, auth, emp, notice, kind="probation_resignation"))["workflow_id"]
    return mwf, owed, wf, await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])


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
    mwf, owed, wf, o = await _resigning_after_return(api, auth, temporal_env, emp)
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


async def test_she_resigns_during_her_leave_and_her_leave_stops_advancing(
        stack, auth, emp, temporal_env, session_factory) -> None:
    """No advance after her last day, nobody escalated for a return that will not come, and the
    maternity case learns her departure from the offboarding itself (no HR call)."""
    api = stack
    mwf, v = await maternity.start_leave(api, auth, temporal_env, emp)
    leave_start = dt.date.fromisoformat(v["leave_start"])
    await until(temporal_env, leave_start + dt.timedelta(days=40))
    notice = await env_today(temporal_env)
    wf = (await offboarding.start(api, auth, emp, notice))["workflow_id"]
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])
    last_day = dt.date.fromisoformat(o["last_day"])
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["leaving_on"] == last_day.isoformat())

    await until(temporal_env, dt.date.fromisoformat(v["expected_return"]) + dt.timedelta(days=10))
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "departed_unsettled")
    assert v["departed_on"] == last_day.isoformat()
    assert all(dt.date.fromisoformat(f"{m}-25") <= last_day for m in v["advances_booked"]), v["advances_booked"]
    with session_factory() as s:
        months = set(s.scalars(select(Receivable.month).where(Receivable.employee_id == emp)))
        tasks = dict(s.execute(select(ApprovalTask.task_key, ApprovalTask.status).where(
            ApprovalTask.workflow_id == mwf)).all())
        employee = s.get(Employee, emp)
    assert months == set(v["advances_booked"])
    assert not any(k.startswith("return-overdue") for k in tasks), tasks  # no escalation for someone who left
    assert any(k.startswith("departed-unsettled") and st == "open" for k, st in tasks.items()), tasks
    assert (employee.employment_status, employee.leaving_on) == ("departed", last_day)
    await record_history(temporal_env.client, mwf, "maternity", "resigned_during_leave_told_by_offboarding")


async def test_after_her_return_and_departure_the_payroll_task_is_cancelled_with_its_reason(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    mwf, owed, _, o = await _resigning_after_return(api, auth, temporal_env, emp)
    await until(temporal_env, dt.date.fromisoformat(o["last_day"]) + dt.timedelta(days=2))
    v = await maternity.wait_view(api, auth, mwf, lambda v: v["stage"] == "departed_unsettled")
    assert Decimal(v["outstanding"]) == owed  # no agreement to deduct from final pay: it stays open, in view
    with session_factory() as s:
        deductions = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == mwf,
                                                         ApprovalTask.task_key.like("confirm-deductions-%")))
        told = list(s.scalars(select(Notification.recipient).where(Notification.template == "task.cancelled",
                                                                   Notification.workflow_id == mwf)))
    # Never closed as done by the system: cancelled, with the reason finance and its manager see.
    assert (deductions.status, deductions.decision) == ("cancelled", "cancelled"), deductions.decision
    assert "she left on" in deductions.reason
    assert sorted(told) == ["finance", "finance/2"]


async def test_her_departure_withdraws_an_enrollment_change_not_yet_carried_out(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    today = await env_today(temporal_env)
    r = await api.post("/si-changes", json={"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                                            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "new hire"},
                       headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    change = r.json()["workflow_id"]
    wf = (await offboarding.start(api, auth, emp, today, kind="probation_resignation"))["workflow_id"]
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])
    await until(temporal_env, dt.date.fromisoformat(o["last_day"]) + dt.timedelta(days=2))

    async def stage() -> str:
        return (await api.get(f"/si-changes/{change}", headers=auth(Role.HR_MANAGER, MANAGER))).json()["stage"]
    await eventually(lambda: _is(stage(), "withdrawn"), what="the change withdrawn at her departure")
    with session_factory() as s:
        told = set(s.scalars(select(Notification.recipient).where(
            Notification.template == "employment.case_withdrawn", Notification.workflow_id == change)))
    assert told == {HR, "hr_manager"}
    # And a new enrollment for someone who left is refused at the door.
    r = await api.post("/si-changes", json={"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                                            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "again"},
                       headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "employed", r.text


async def _is(value, expected) -> bool:
    return (await value) == expected


async def test_a_person_who_left_is_rehired_and_can_apply_again(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    notice = await env_today(temporal_env)
    wf = (await offboarding.start(api, auth, emp, notice, kind="probation_resignation"))["workflow_id"]
    o = await offboarding.wait_view(api, auth, wf, lambda o: o["risk"])
    last_day = dt.date.fromisoformat(o["last_day"])
    await until(temporal_env, last_day + dt.timedelta(days=2))
    hr = auth(Role.HR_SPECIALIST, HR)
    await eventually(lambda: _status(session_factory, emp) == "departed", what="her departure recorded")
    early = await api.post(f"/employees/{emp}/rehire", json={"hire_date": last_day.isoformat()}, headers=hr)
    assert early.status_code == 422 and early.json()["detail"][0]["field"] == "hire_date"
    r = await api.post(f"/employees/{emp}/rehire", json={"hire_date": (last_day + dt.timedelta(days=30)).isoformat()},
                       headers=hr)
    assert r.status_code == 200 and r.json()["employment_status"] == "active", r.text
    again = await api.post(f"/employees/{emp}/rehire", json={"hire_date": (last_day + dt.timedelta(days=31)).isoformat()},
                           headers=hr)
    assert again.status_code == 409
    r = await api.post("/si-changes", json={"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                                            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "rehired"},
                       headers=hr)
    assert r.status_code == 201, r.text  # employed again: enrollment is hers to have


def _status(session_factory, emp: str) -> str:
    with session_factory() as s:
        return s.get(Employee, emp).employment_status
