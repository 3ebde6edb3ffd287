"""Offboarding through the API, on the time-skipping server and real PostgreSQL.

Seed 001 (an adviser with an open client dispute resigns with 30 days' notice) and seed 000 (a
departure with an unrecovered maternity advance): every hold, escalation and compensation must be
visible on the case and in the audit trail, and nothing the law forbids may be withheld.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from db.models import AuditEvent, CaseDeadline, EmployeeRecord, Receivable, SiEnrollment, SimAgencyRequest
from domain import workdays
from domain.roles import Role
from integrations.si_agency import AgencySubmission
from tests.processes import support
from tests.processes.support import env_today, eventually, record_history, until

HR, MANAGER, FINANCE, COMPLIANCE, IT, RECEIVER = "hr.li", "mgr.wang", "fin.zhao", "cmp.sun", "it.qian", "E0042"


@pytest.fixture
async def temporal_env(codec) -> AsyncIterator[object]:
    """A time-skipping server per test: run after other modules, this module's shared server lost
    its ability to skip time by itself (each sleep then waited out its call's 30 s time-out)."""
    async with support.time_skipping_env(codec) as env:
        yield env


ROUTES = support.CaseRoutes("/offboardings", Role.HR_MANAGER, MANAGER)
view, wait_view = ROUTES.view, ROUTES.wait_view


async def record(api, auth, emp: str, role: Role, user: str, kind: str, title: str, amount: str | None = None) -> int:
    r = await api.post(f"/employees/{emp}/records", json={"kind": kind, "title": title, "amount": amount},
                       headers=auth(role, user))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def start(api, auth, emp: str, notice: dt.date, kind: str = "resignation", **extra) -> dict:
    body = {"employee_id": emp, "kind": kind, "notice_date": notice.isoformat(), "monthly_wage": "10000.00",
            "minimum_wage": "2540.00",
            "handover": [{"key": "clients", "title": "Client portfolio and open orders", "receiver": RECEIVER}]} | extra
    r = await api.post("/offboardings", json=body, headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    return r.json()


async def sign(api, auth, wf: str, role: Role, user: str, gate: str, key: str, outcome: str, **extra) -> httpx.Response:
    return await api.post(f"/offboardings/{wf}/sign-off", json={"gate": gate, "item_key": key, "outcome": outcome} | extra,
                          headers=auth(role, user))


async def test_securities_case_departure_happens_dispute_carries_on(stack, auth, emp, temporal_env,
                                                                   session_factory) -> None:
    api = stack
    await record(api, auth, emp, Role.COMPLIANCE, COMPLIANCE, "violation", "private trading for a client", "200000.00")
    dispute = await record(api, auth, emp, Role.COMPLIANCE, COMPLIANCE, "dispute", "client complaint over losses")
    await record(api, auth, emp, Role.IT, IT, "access", "trading terminal account")
    notice = await env_today(temporal_env)
    v = await wait_view(api, auth, (await start(api, auth, emp, notice))["workflow_id"], lambda v: v["risk"])
    wf = v["workflow_id"]
    assert v["last_day"] == (notice + dt.timedelta(days=30)).isoformat()
    assert "2 compliance item(s) on record, losses 200000.00 yuan: needs compliance review" in v["risk"]["summary"]
    assert any("not blocked" in line for line in v["lawful_holds"])

    # Wrong person, wrong role: refused by the gate itself.
    r = await sign(api, auth, wf, Role.HR_SPECIALIST, "someone", "handover", "clients", "handed_over")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = await sign(api, auth, wf, Role.FINANCE, FINANCE, "compliance", f"record-{dispute}", "resolved")
    assert r.status_code == 403 and r.json()["error"] == "wrong_role"
    assert (await sign(api, auth, wf, Role.EMPLOYEE, RECEIVER, "handover", "clients", "handed_over")).status_code == 200
    for key in [i["key"] for i in v["items"] if i["gate"] == "it"]:
        assert (await sign(api, auth, wf, Role.IT, IT, "it", key, "revoked")).status_code == 200

    # Compliance is still open the day before: escalated. The last day comes anyway.
    await until(temporal_env, notice + dt.timedelta(days=30))
    v = await wait_view(api, auth, wf, lambda v: v["certificate_no"] is not None)
    assert v["gates"]["compliance"] == "open" and v["final_pay"]["wages_due"] == "10000.00"
    inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).json()["items"]
    assert any(i["task_key"].startswith("escalation-compliance") for i in inbox)
    await until(temporal_env, notice + dt.timedelta(days=31))
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "departed")

    # Compliance escalates to legal with the evidence package; the item stays on the case.
    violation_key = next(i["key"] for i in v["items"] if i["gate"] == "compliance" and "trading" in i["title"])
    r = await sign(api, auth, wf, Role.COMPLIANCE, COMPLIANCE, "compliance", violation_key, "escalated_to_legal",
                   note="loss 200,000: claim under Civil Code art. 1191")
    assert r.status_code == 200
    item = next(i for i in r.json()["items"] if i["key"] == violation_key)
    assert item["status"] == "carried_on" and "evidence" in item["title"]
    assert r.json()["stage"] == "departed" and r.json()["gates"]["hr_final"] == "open"  # final settlement held
    with session_factory() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)))
    assert {"offboarding.risk_assessed", "offboarding.certificate_issued", "clearance.compliance.signed"} <= actions
    await record_history(temporal_env.client, wf, "offboarding", "securities_case")


async def test_maternity_advance_deducted_by_agreement_then_clearance_completes(stack, auth, emp, temporal_env,
                                                                                 session_factory) -> None:
    api = stack
    now = dt.datetime.now(dt.UTC)
    with session_factory.begin() as s:
        for month in ("2026-06", "2026-07"):
            s.add(Receivable(employee_id=emp, workflow_id=f"maternity-leave-{emp}-x", kind="maternity_advance",
                             month=month, amount=Decimal("1053.00"), booked_at=now))
    notice = await env_today(temporal_env)
    wf = (await start(api, auth, emp, notice, kind="probation_resignation"))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["risk"])
    assert v["last_day"] == (notice + dt.timedelta(days=3)).isoformat()  # probation: 3 days
    assert v["risk"]["receivables_outstanding"] == "2106.00"
    r = await sign(api, auth, wf, Role.FINANCE, FINANCE, "finance", "receivables", "deducted_by_agreement",
                   amount="2106.00")
    assert r.status_code == 422  # no written agreement, no deduction from final pay
    r = await sign(api, auth, wf, Role.FINANCE, FINANCE, "finance", "receivables", "deducted_by_agreement",
                   amount="2106.00", agreed_in_writing=True, note="signed deduction agreement D-17")
    assert r.status_code == 200
    await sign(api, auth, wf, Role.EMPLOYEE, RECEIVER, "handover", "clients", "handed_over")
    await sign(api, auth, wf, Role.IT, IT, "it", "accounts", "revoked")
    r = await sign(api, auth, wf, Role.HR_MANAGER, MANAGER, "hr_final", "final", "approved")
    assert r.status_code == 200 and r.json()["gates"]["hr_final"] == "done"
    await until(temporal_env, notice + dt.timedelta(days=4))
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "departed")
    assert v["final_pay"]["agreed_deductions"] == "2106.00" and v["final_pay"]["net_wages"] == "7894.00"
    for filing in ("labour_filing", "archive_and_insurance_transfer"):
        r = await api.post(f"/offboardings/{wf}/filings", json={"filing": filing, "reference": f"REF-{filing}"},
                           headers=auth(Role.HR_SPECIALIST, HR))
        assert r.status_code == 200
    await wait_view(api, auth, wf, lambda v: v["stage"] == "completed")
    await record_history(temporal_env.client, wf, "offboarding", "maternity_advance_deducted")


async def test_withdrawal_after_last_day_steps_compensates_everything(stack, auth, emp, temporal_env, session_factory,
                                                                      agency) -> None:
    api = stack
    access = await record(api, auth, emp, Role.IT, IT, "access", "VPN account")
    with session_factory.begin() as s:  # enrolled in Beijing, at the agency and on our records
        s.add(SiEnrollment(employee_id=emp, city="beijing", status="active", base=Decimal("10000.00"),
                           since_month="2025-01", opened_by="seed"))
    agency.submit(AgencySubmission(reference=f"seed-{emp}", employee_id=emp, resident_id_number="11010519491231002X",
                                   city="beijing", kind="enrollment", base="10000.00", months=[],
                                   effective_month="2025-01"))
    notice = await env_today(temporal_env)
    wf = (await start(api, auth, emp, notice))["workflow_id"]
    await until(temporal_env, notice + dt.timedelta(days=30), hour=9)
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "last_day")
    assert v["enrollment_stop"] and v["housing_fund_stop"]
    with session_factory() as s:
        assert s.get(EmployeeRecord, access).status == "revoked"
        assert s.scalar(select(SiEnrollment.status).where(SiEnrollment.opened_by == "seed")) == "stopped"

    r = await api.post(f"/offboardings/{wf}/withdraw", json={"reason": "I want to stay"}, headers=auth(Role.EMPLOYEE, emp))
    assert r.status_code == 200, r.text
    r = await api.post(f"/offboardings/{wf}/withdrawal-decision", json={"accept": True},
                       headers=auth(Role.HR_MANAGER, MANAGER))
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn"
    with session_factory() as s:
        assert s.get(EmployeeRecord, access).status == "open"  # access restored
        active = list(s.scalars(select(SiEnrollment).where(SiEnrollment.status == "active")))
        assert len(active) == 1 and active[0].opened_by != "seed"  # enrollment restarted by a child change
        kinds = [p["kind"] for p in s.scalars(select(SimAgencyRequest.payload).order_by(SimAgencyRequest.received_at))]
        # seed enrollment; last day: stop, housing fund stop; undone newest first: fund, then enrollment
        assert kinds == ["enrollment", "stop", "housing_fund_stop", "housing_fund_restart", "enrollment"]
        undo = [a for a in s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)
                                     .order_by(AuditEvent.id)) if a in ("offboarding.deductions_cancelled",
                                                                        "offboarding.access_restored")]
    assert undo == ["offboarding.deductions_cancelled", "offboarding.access_restored"]  # reverse order
    with session_factory() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                 AuditEvent.action == "offboarding.certificate_voided"))
    await record_history(temporal_env.client, wf, "offboarding", "withdrawn_certificate_voided")


async def test_missed_filing_deadline_is_escalated(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    notice = await env_today(temporal_env)
    wf = (await start(api, auth, emp, notice, kind="mutual_agreement",
                      agreed_last_day=(notice + dt.timedelta(days=5)).isoformat(),
                      economic_compensation="20000.00"))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["risk"])
    await until(temporal_env, notice + dt.timedelta(days=6))
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "departed")
    assert v["final_pay"]["compensation_held"] is True  # handover not complete: held, lawfully
    due = dt.date.fromisoformat(v["filing_due"])
    assert due == _first_working_day_from(notice + dt.timedelta(days=5 + 15))  # 15 days, a rest day rolls on
    with session_factory() as s:
        deadline = s.scalar(select(CaseDeadline).where(CaseDeadline.workflow_id == wf))
    assert (deadline.kind, deadline.status) == ("departure_filing", "open")  # for the daily sweep
    assert deadline.due_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == due
    await until(temporal_env, due + dt.timedelta(days=2))

    async def escalated() -> bool:
        inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).json()["items"]
        return any(i["task_key"].startswith("filings-overdue") for i in inbox)
    await eventually(escalated)
    with session_factory() as s:
        missed = s.scalar(select(AuditEvent).where(AuditEvent.action == "offboarding.filing_deadline_missed"))
    assert missed.after["missing"] == ["labour_filing", "archive_and_insurance_transfer"]
    r = await sign(api, auth, wf, Role.EMPLOYEE, RECEIVER, "handover", "clients", "handed_over")
    assert r.status_code == 200 and r.json()["final_pay"] is None  # a colleague does not see her pay
    assert [i["key"] for i in r.json()["items"]] == ["clients"]
    v = await view(api, auth, wf)
    assert v["final_pay"]["compensation_held"] is False  # released once the handover is complete
    await record_history(temporal_env.client, wf, "offboarding", "filing_missed")


def _first_working_day_from(day: dt.date) -> dt.date:
    """Civil Code art. 203, walked day by day on the calendar (not the deadline function)."""
    while not workdays.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


async def test_filing_deadline_is_replanned_when_an_arrangement_is_approved(stack, auth, emp, temporal_env,
                                                                           session_factory) -> None:
    """The 15-day filing date rests on the calendar; when admins approve a holiday arrangement that
    makes it a day off, the running case plans it again, says so in its audit trail, and the sweep's
    deadline moves with it."""
    api = stack
    notice = await env_today(temporal_env)
    last = notice + dt.timedelta(days=5)
    wf = (await start(api, auth, emp, notice, kind="mutual_agreement", agreed_last_day=last.isoformat()))["workflow_id"]
    v = await wait_view(api, auth, wf, lambda v: v["risk"])
    planned = dt.date.fromisoformat(v["filing_due"])
    assert planned == _first_working_day_from(last + dt.timedelta(days=15))
    arrangement = {"kind": "holiday_arrangement",
                   "source": {"name": "国务院办公厅关于部分节假日安排的通知（测试用）", "document_number": "国办发明电〔测试〕1号"},
                   "figures": {"year": planned.year, "days_off": sorted(
                       {planned.isoformat(), (planned + dt.timedelta(days=1)).isoformat()}
                       | {d.isoformat() for d in workdays.statutory_holidays(planned.year)})}}
    entered = await api.post("/policy/notices", json=arrangement, headers=auth(Role.ADMIN, "admin.one"))
    assert entered.status_code == 201, entered.text
    approved = await api.post(f"/policy/notices/{entered.json()['id']}/approve", headers=auth(Role.ADMIN, "admin.two"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["cases_replanned"] >= 1
    await until(temporal_env, last + dt.timedelta(days=1))
    v = await wait_view(api, auth, wf, lambda v: v["filing_due"] != planned.isoformat())
    moved = dt.date.fromisoformat(v["filing_due"])
    assert moved == _first_working_day_from(planned + dt.timedelta(days=2)) and v["filing_due_provisional"] is False
    with session_factory() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "offboarding.filings_replanned"))
        deadline = s.scalar(select(CaseDeadline).where(CaseDeadline.workflow_id == wf))
    assert event.before["due"] == planned.isoformat() and event.after["due"] == moved.isoformat()
    assert deadline.due_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == moved
    await record_history(temporal_env.client, wf, "offboarding", "filings_replanned")


async def test_non_compete_follows_the_departure(stack, auth, emp, temporal_env) -> None:
    api = stack
    notice = await env_today(temporal_env)
    r = await api.post("/offboardings", json={
        "employee_id": emp, "kind": "probation_resignation", "notice_date": notice.isoformat(),
        "monthly_wage": "12000.00", "minimum_wage": "2540.00",
        "handover": [{"key": "docs", "title": "Research notes", "receiver": RECEIVER}],
        "non_compete": {"months": 30, "average_monthly_wage_12m": "12000.00"}}, headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "non_compete.months"  # at most 24
    wf = (await start(api, auth, emp, notice, kind="probation_resignation",
                      non_compete={"months": 24, "average_monthly_wage_12m": "12000.00"}))["workflow_id"]
    await until(temporal_env, notice + dt.timedelta(days=4))
    v = await wait_view(api, auth, wf, lambda v: v["non_compete_case"])
    nc = (await api.get(f"/non-competes/{v['non_compete_case']}", headers=auth(Role.HR_MANAGER, MANAGER))).json()
    assert nc["monthly_compensation"] == "3600.00"  # 30% of 12,000 (Interpretation (I) art. 36)
    assert nc["months"] == 24


async def test_departing_staff_cannot_sign_their_own_clearance(stack, auth, token, emp, temporal_env) -> None:
    """A login is not an employee number: the departing IT engineer signs in as 'it.self'."""
    api = stack
    notice = await env_today(temporal_env)
    wf = (await start(api, auth, emp, notice))["workflow_id"]
    await wait_view(api, auth, wf, lambda v: v["risk"])
    own_login = {"Authorization": f"Bearer {token(Role.IT, 'it.self', employee=emp)}"}
    r = await api.post(f"/offboardings/{wf}/sign-off", json={"gate": "it", "item_key": "accounts", "outcome": "revoked"},
                       headers=own_login)
    assert r.status_code == 403 and r.json()["error"] == "self_approval"
    assert f"您是本案的当事人（{emp}）" in r.json()["detail"]["message"]


async def test_final_pay_deduction_settles_the_maternity_case(stack, auth, emp, temporal_env, session_factory) -> None:
    """Seed 000 end to end: the advance booked on her maternity case is deducted from final pay
    with her written agreement, on her last day, and the maternity case sees it settled (not
    recovered twice)."""
    from tests.processes import test_maternity as maternity

    api = stack
    mwf, v = await maternity.start_leave(api, auth, temporal_env, emp)
    await until(temporal_env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=65))
    v = await maternity.wait_view(api, auth, mwf, lambda v: len(v["advances_booked"]) >= 2)
    owed = Decimal(v["outstanding"])
    notice = await env_today(temporal_env)
    wf = (await start(api, auth, emp, notice))["workflow_id"]
    o = await wait_view(api, auth, wf, lambda o: o["risk"])
    assert Decimal(o["risk"]["receivables_outstanding"]) == owed and mwf in o["risk"]["receivable_cases"]
    r = await sign(api, auth, wf, Role.FINANCE, "fin.zhao", "finance", "receivables", "deducted_by_agreement",
                   amount=str(owed), agreed_in_writing=True, note="deduction agreement D-17")
    assert r.status_code == 200, r.text
    v = await maternity.view(api, auth, mwf)
    assert Decimal(v["settled"]) == 0  # agreed now; recovered from final pay on the last day
    await until(temporal_env, dt.date.fromisoformat(o["last_day"]) + dt.timedelta(days=1))
    o = await wait_view(api, auth, wf, lambda o: o["final_pay"])
    assert Decimal(o["final_pay"]["agreed_deductions"]) == owed  # at most what she agreed to
    v = await maternity.wait_view(api, auth, mwf, lambda v: Decimal(v["settled"]) == owed)
    with session_factory() as s:
        booked = sum(s.scalars(select(Receivable.amount).where(Receivable.employee_id == emp)))
        settled = sum(s.scalars(select(Receivable.settled).where(Receivable.employee_id == emp)))
    assert settled == owed and Decimal(v["outstanding"]) == booked - owed  # each fen once, ledger and case agree
    await record_history(temporal_env.client, wf, "offboarding", "final_pay_claims_the_open_balance")
