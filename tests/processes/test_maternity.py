"""Maternity leave through the API, on the time-skipping server and real PostgreSQL.

Seed 000 is the thread: advances are booked month by month, the return starts the deduction,
finance confirms it, and a departure with money open leaves the exact amount, months and
responsible roles in view instead of a silent loss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.audit import verify_chain
from db.models import ApprovalTask, AuditEvent, Case, CaseDeadline, Employee, Notification, Receivable
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from tests.processes import support
from tests.processes.support import add_employee, env_today, record_history, terminate_cases, until
from worker import build_worker


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test, starting today: each test runs months of leave (``support.time_skipping_env``)."""
    async with support.time_skipping_env(codec) as env:
        yield env


HR, MANAGER, FINANCE = "hr.li", "mgr.wang", "fin.zhao"
MONTHLY_ADVANCE = Decimal("1053.00")  # Beijing, base 10,000: 8% + 2% + 3 yuan + 0.5%


ROUTES = support.CaseRoutes("/maternity-leaves", Role.HR_SPECIALIST, HR)
view, wait_view, post = ROUTES.view, ROUTES.wait_view, ROUTES.post


async def apply(api, auth, emp: str, due: dt.date, **extra) -> dict:
    body = {"employee_id": emp, "expected_delivery_date": due.isoformat(), "company_pays_salary": False} | extra
    r = await api.post("/maternity-leaves", json=body, headers=auth(Role.EMPLOYEE, emp))
    assert r.status_code == 201, r.text
    return r.json()


async def start_leave(api, auth, env, emp: str, **extra) -> tuple[str, dict]:
    due = await env_today(env) + dt.timedelta(days=20)
    started = await apply(api, auth, emp, due, **extra)
    wf = started["workflow_id"]
    r = await post(api, auth, wf, "approve", Role.HR_SPECIALIST, HR)
    assert r.status_code == 200, r.text
    await until(env, dt.date.fromisoformat(started["leave_start"]))
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "on_leave")
    return wf, v


async def test_beijing_single_birth_to_zero_receivable(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp, employer_average_wage="12000.00")
    assert v["total_days"] == 158  # Beijing: 98 + 60
    with session_factory() as s:
        assert s.get(Employee, emp).si_status == "on_maternity_leave_return_pending"
        told = s.scalar(select(Notification).where(Notification.template == "maternity.advance_starts"))
        assert told.recipient == "finance" and told.params["monthly_advance"] == str(MONTHLY_ADVANCE)

    birth = dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=15)
    r = await post(api, auth, wf, "birth", Role.HR_SPECIALIST, HR, {"birth_date": birth.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["allowance_expected"] == "63200.00"  # 12,000 / 30 x 158
    assert r.json()["allowance_claim_no"].startswith("MA")

    expected_return = dt.date.fromisoformat(r.json()["expected_return"])
    last_day = expected_return - dt.timedelta(days=1)
    await until(temporal_env, last_day, hour=20)  # past a payroll cut-off (18:00) on her last day
    first = dt.date.fromisoformat(v["leave_start"])
    months = {f"{d:%Y-%m}" for d in (first + dt.timedelta(days=n) for n in range((last_day - first).days + 1))
              if d.day == 25}  # the default HRFLOW_PAYROLL_CUTOFF_DAY
    assert len(months) in (5, 6)  # 158 days span five or six cut-offs, by the day the leave starts
    v = await wait_view(api, auth, wf, lambda v: set(v["advances_booked"]) == months)
    assert set(v["advances_booked"].values()) == {str(MONTHLY_ADVANCE)}
    total = MONTHLY_ADVANCE * len(months)
    assert _return_deadline(session_factory, wf) == ("open", expected_return)  # the sweep knows her date

    r = await post(api, auth, wf, "allowance-payment", Role.FINANCE, FINANCE, {"amount": "63200.00"})
    assert Decimal(r.json()["allowance_difference"]) == Decimal("63200.00")  # no salary paid: all hers

    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": expected_return.isoformat()})
    assert r.status_code == 200, r.text
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "deducting")
    assert [Decimal(x) for x in v["deductions_planned"]] == [total]
    # Over-deducting is refused; the exact confirmed amounts bring the receivable down.
    r = await post(api, auth, wf, "deductions", Role.FINANCE, FINANCE, {"amount": str(total + 1)})
    assert r.status_code == 409 and r.json()["error"] == "over_settlement"
    r = await post(api, auth, wf, "deductions", Role.FINANCE, FINANCE, {"amount": "2000.00", "reference": "PAY-1"})
    assert Decimal(r.json()["outstanding"]) == total - Decimal("2000.00")
    r = await post(api, auth, wf, "deductions", Role.FINANCE, FINANCE, {"amount": str(total - 2000), "reference": "PAY-2"})
    assert r.status_code == 200
    await wait_view(api, auth, wf, lambda v: v["stage"] == "closed")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Receivable).where(Receivable.status == "settled")) == len(months)
        assert s.get(Employee, emp).si_status == "normal"
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "completed"
        assert s.scalar(select(func.count()).select_from(Notification)
                        .where(Notification.template == "maternity.return_reminder")) == 2  # her and HR
        assert verify_chain(s).ok
    assert _return_deadline(session_factory, wf) == ("met", expected_return)
    await record_history(temporal_env.client, wf, "maternity", "beijing_single_birth")


def _return_deadline(session_factory, wf: str) -> tuple[str, dt.date]:
    with session_factory() as s:
        d = s.scalar(select(CaseDeadline).where(CaseDeadline.workflow_id == wf, CaseDeadline.kind == "maternity_return"))
    return d.status, d.due_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()


async def test_twins_with_difficult_birth_extend_the_leave(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    due = await env_today(temporal_env) + dt.timedelta(days=30)
    started = await apply(api, auth, emp, due, babies=2, difficult_birth=True)
    assert started["total_days"] == 188  # 158 + 15 (second baby) + 15 (difficult birth)
    # One open leave at a time: the twin application is withdrawn before the single one is filed.
    r = await post(api, auth, started["workflow_id"], "withdraw", Role.EMPLOYEE, emp, {"reason": "filed twice"})
    assert r.status_code == 200, r.text
    single = await apply(api, auth, emp, due + dt.timedelta(days=1))
    assert single["total_days"] == 158
    wf = single["workflow_id"]
    await post(api, auth, wf, "approve", Role.HR_SPECIALIST, HR)
    r = await post(api, auth, wf, "birth", Role.EMPLOYEE, emp,
                   {"birth_date": due.isoformat(), "babies": 2, "difficult_birth": True})
    assert r.status_code == 200, r.text
    assert r.json()["total_days"] == 188
    # 30 more days, counted from the same leave start (the days run from the start of the leave)
    assert dt.date.fromisoformat(r.json()["expected_return"]) - dt.date.fromisoformat(single["expected_return"]) \
        == dt.timedelta(days=30)
    with session_factory() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "maternity.entitlement_recomputed"))
    assert (event.actor, event.before["total_days"], event.after["total_days"]) == (emp, 158, 188)
    await record_history(temporal_env.client, wf, "maternity", "twins_difficult_birth")


async def test_withdrawn_before_start_and_cancelled_during_leave(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    due = await env_today(temporal_env) + dt.timedelta(days=40)
    early = (await apply(api, auth, emp, due))["workflow_id"]
    await post(api, auth, early, "approve", Role.HR_SPECIALIST, HR)
    r = await post(api, auth, early, "withdraw", Role.EMPLOYEE, emp, {"reason": "plans changed"})
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn"
    with session_factory() as s:
        assert s.get(Employee, emp).si_status == "normal"
        assert s.scalar(select(func.count()).select_from(Notification).where(
            Notification.recipient == "finance")) == 0  # finance was never involved
        told = list(s.scalars(select(Notification.params["label_en"].astext).where(
            Notification.recipient == emp, Notification.template == "case.stage_changed").order_by(Notification.id)))
    assert told == ["your leave is approved", "your application is withdrawn"]  # she heard of each step

    wf, _ = await start_leave(api, auth, temporal_env, emp)
    r = await post(api, auth, wf, "withdraw", Role.EMPLOYEE, emp, {"reason": "x"})
    assert r.status_code == 403  # a leave under way is cancelled by HR
    r = await post(api, auth, wf, "withdraw", Role.HR_MANAGER, MANAGER, {"reason": "registered in error"})
    assert r.status_code == 200 and r.json()["stage"] == "cancelled"
    with session_factory() as s:
        assert s.get(Employee, emp).si_status == "normal"  # compensation undid the status change
        templates = list(s.scalars(select(Notification.template).where(Notification.recipient == "finance")
                                   .order_by(Notification.id)))
        assert templates == ["maternity.advance_starts", "maternity.advance_cancelled"]
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf).order_by(AuditEvent.id)))
        assert actions.count("employee.si_status_changed") == 2
    await record_history(temporal_env.client, wf, "maternity", "cancelled_during_leave")


async def test_late_return_is_escalated(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp, company_pays_salary=True)
    expected_return = dt.date.fromisoformat(v["expected_return"])
    await until(temporal_env, expected_return + dt.timedelta(days=4))
    await wait_view(api, auth, wf, lambda v: v["stage"] == "return_overdue")
    inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).json()["items"]
    assert [i["workflow_id"] for i in inbox] == [wf]
    assert v["advances_booked"] == {}  # salary was paid: contributions came out of it
    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": v["leave_start"]})
    assert r.status_code == 422  # not on (or before) the first day of the leave
    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": (expected_return + dt.timedelta(days=30)).isoformat()})
    assert r.status_code == 422  # not in the future
    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": (expected_return + dt.timedelta(days=4)).isoformat()})
    assert r.status_code == 200
    await wait_view(api, auth, wf, lambda v: v["stage"] == "closed")
    with session_factory() as s:
        statuses = dict(s.execute(select(ApprovalTask.task_key, ApprovalTask.status)
                                  .where(ApprovalTask.workflow_id == wf)).all())
    assert all(status != "open" for status in statuses.values())
    await record_history(temporal_env.client, wf, "maternity", "late_return")


async def test_resignation_with_advances_open_then_write_off(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp)
    await until(temporal_env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=70))
    v = await wait_view(api, auth, wf, lambda v: len(v["advances_booked"]) >= 2)
    booked = sorted(v["advances_booked"])
    r = await post(api, auth, wf, "departure", Role.HR_SPECIALIST, HR,
                   {"date": (await env_today(temporal_env)).isoformat()})
    assert r.status_code == 200, r.text
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "departed_unsettled")
    owed = MONTHLY_ADVANCE * len(booked)
    assert Decimal(v["outstanding"]) == owed
    ledger = (await api.get(f"/receivables/{emp}", headers=auth(Role.FINANCE, FINANCE))).json()
    assert (Decimal(ledger["outstanding"]), ledger["months"]) == (owed, booked)
    assert ledger["responsible"]["write_off"] == "finance + hr_manager"
    assert (await api.get(f"/receivables/{emp}", headers=auth(Role.EMPLOYEE, emp))).status_code == 403
    listed = (await api.get("/receivables", headers=auth(Role.FINANCE, FINANCE))).json()["items"]
    assert sorted(r["month"] for r in listed if r["employee_id"] == emp) == booked

    # Deductions from salary are over; a write-off needs two people in two roles.
    r = await post(api, auth, wf, "deductions", Role.FINANCE, FINANCE, {"amount": "10.00"})
    assert r.status_code == 409
    r = await post(api, auth, wf, "write-off", Role.FINANCE, FINANCE, {"reason": "arbitration not worth it"})
    assert r.status_code == 200 and r.json()["stage"] == "departed_unsettled"
    r = await post(api, auth, wf, "write-off", Role.FINANCE, FINANCE, {"reason": "again"})
    assert r.status_code == 409
    r = await post(api, auth, wf, "write-off", Role.HR_MANAGER, FINANCE, {"reason": "same person"})
    assert r.status_code == 403
    r = await post(api, auth, wf, "write-off", Role.HR_MANAGER, MANAGER, {"reason": "agreed with finance"})
    assert r.status_code == 200
    await wait_view(api, auth, wf, lambda v: v["stage"] == "closed")
    with session_factory() as s:
        assert set(s.scalars(select(Receivable.status))) == {"written_off"}
        approvals = list(s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "maternity.write_off_approved")))
        assert approvals == [FINANCE, MANAGER]
    await record_history(temporal_env.client, wf, "maternity", "departure_write_off")


async def test_worker_restart_mid_leave_books_each_month_once(temporal_env, settings, session_factory, api, auth,
                                                              emp, agency) -> None:
    add_employee(session_factory, emp)
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency, max_cached_workflows=0):
        wf, v = await start_leave(api, auth, temporal_env, emp)
        await until(temporal_env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=40))
        await wait_view(api, auth, wf, lambda v: len(v["advances_booked"]) >= 1)
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency, max_cached_workflows=0):
        await until(temporal_env, dt.date.fromisoformat(v["expected_return"]) - dt.timedelta(days=1))
        v = await wait_view(api, auth, wf, lambda v: len(v["advances_booked"]) == 5)
        await terminate_cases(temporal_env.client, session_factory)
    with session_factory() as s:
        months = list(s.scalars(select(Receivable.month).where(Receivable.employee_id == emp)))
    assert len(months) == len(set(months)) == 5


async def test_extension_needs_a_manager(stack, auth, emp, temporal_env) -> None:
    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp)
    r = await post(api, auth, wf, "extensions", Role.EMPLOYEE, emp,
                   {"days": 15, "kind": "medical_certificate", "reason": "complications, certificate attached"})
    assert r.status_code == 200 and r.json()["pending_extension"]["days"] == 15
    r = await post(api, auth, wf, "extensions/decision", Role.HR_SPECIALIST, HR, {"approve": True})
    assert r.status_code == 403
    r = await post(api, auth, wf, "extensions/decision", Role.HR_MANAGER, MANAGER, {"approve": True})
    assert r.status_code == 200
    assert dt.date.fromisoformat(r.json()["expected_return"]) == \
        dt.date.fromisoformat(v["expected_return"]) + dt.timedelta(days=15)
    assert r.json()["total_days"] == 173


async def test_early_birth_starts_the_leave_at_the_birth(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    due = await env_today(temporal_env) + dt.timedelta(days=40)
    wf = (await apply(api, auth, emp, due))["workflow_id"]  # planned start: 15 days before the due date
    await post(api, auth, wf, "approve", Role.HR_SPECIALIST, HR)
    birth = due - dt.timedelta(days=30)
    r = await post(api, auth, wf, "birth", Role.HR_SPECIALIST, HR, {"birth_date": birth.isoformat()})
    assert r.status_code == 200 and r.json()["leave_start"] == birth.isoformat()
    await until(temporal_env, birth + dt.timedelta(days=1))
    await wait_view(api, auth, wf, lambda v: v["stage"] == "on_leave")  # not 15 days later
    with session_factory() as s:
        assert s.get(Employee, emp).si_status == "on_maternity_leave_return_pending"
    await record_history(temporal_env.client, wf, "maternity", "early_birth")


async def test_advances_follow_the_actual_return_day(stack, auth, emp, temporal_env, session_factory) -> None:
    """HR confirmed late: she was back before the last cut-offs, so those advances are reversed."""
    from domain.maternity import months_on_leave_at_cutoff

    api = stack
    wf, v = await start_leave(api, auth, temporal_env, emp)
    start = dt.date.fromisoformat(v["leave_start"])
    await until(temporal_env, start + dt.timedelta(days=130))
    v = await wait_view(api, auth, wf, lambda v: len(v["advances_booked"]) == 4)
    back = start + dt.timedelta(days=70)
    r = await post(api, auth, wf, "return", Role.HR_SPECIALIST, HR, {"date": back.isoformat()})
    assert r.status_code == 200, r.text
    away = [f"{d:%Y-%m}" for d in months_on_leave_at_cutoff(start, back - dt.timedelta(days=1), 25)]
    assert sorted(r.json()["advances_booked"]) == away and len(away) < 4
    assert Decimal(r.json()["outstanding"]) == MONTHLY_ADVANCE * len(away)
    with session_factory() as s:
        statuses = dict(s.execute(select(Receivable.month, Receivable.status)
                                  .where(Receivable.employee_id == emp)).all())
    assert {m for m, st in statuses.items() if st == "reversed"} == set(statuses) - set(away)
    await record_history(temporal_env.client, wf, "maternity", "advances_reconciled_with_return")
