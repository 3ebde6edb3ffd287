"""The annual base adjustment through the API, on the time-skipping server and real PostgreSQL.

One Beijing batch under the 2026 notice (floor 7,270, ceiling 36,348 from July): every kind of
line, approval with the back-payment echoed, a page the agency partly refuses, the maker's
correction and a second round, a correction inside the rollback window, and revocation after
the declaration restoring every base and advance.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update
from temporalio.testing import WorkflowEnvironment

from bench.common import resident_id
from db.audit import verify_chain
from db.models import (
    AuditEvent,
    BaseAdjustment,
    BaseAdjustmentLine,
    BaseAdjustmentWage,
    Case,
    Employee,
    Receivable,
    SiEnrollment,
    SimAgencyRequest,
)
from domain.maternity import BASE_DIFFERENCE, ON_LEAVE_STATUS
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from integrations.si_agency import AgencySubmission, FaultPlan, SimulatedAgency
from tests.processes import support
from tests.processes.support import add_employee, env_today, eventually, record_history

MAKER, CHECKER = "hr.li", "mgr.wang"
# Each test its own effective month: the batch's id names city and month, and ids are unique per server.
CITY, MONTH = "Beijing", "2026-07"
INSURED_IN = "beijing"  # the catalogue's code, as enrollments and the agency name the city


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test, starting today: a batch's back-payment runs to its declaration's month,
    so each test's months must not depend on the time the module's other tests skipped."""
    async with support.time_skipping_env(codec) as env:
        yield env


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"sim_agency_latency_ms": 0, "base_adjustment_page_size": 3,
                                       "base_adjustment_pages_per_part": 2})


class People:
    """Employees of one test (ids unique per test: one server serves the module)."""

    def __init__(self, emp: str) -> None:
        self.tag = emp
        self.n = 0

    def __call__(self, letter: str) -> str:
        return f"{self.tag}{letter}"


def hire(session_factory, agency: SimulatedAgency, emp: str, n: int, old_base: str, *, enrolled: bool = True,
         **changes: object) -> None:
    """An employee insured in Beijing at ``old_base``: on record and at the agency."""
    add_employee(session_factory, emp, resident_id_number=resident_id(n), base=old_base)
    with session_factory.begin() as s:
        if changes:
            s.execute(update(Employee).where(Employee.employee_id == emp).values(**changes))
        if enrolled:
            s.add(SiEnrollment(employee_id=emp, city=INSURED_IN, status="active", base=Decimal(old_base),
                               since_month="2021-03", opened_by="seed"))
    if enrolled:
        agency.submit(AgencySubmission(reference=f"seed:{emp}", employee_id=emp, resident_id_number=resident_id(n),
                                       city=INSURED_IN, kind="enrollment", base=old_base, months=[], effective_month="2021-03"))


def wages(rows: list[tuple[str, str]]) -> bytes:
    lines = ["员工编号,上年度月平均工资"] + [f"{e},{w}" for e, w in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


async def start(api: httpx.AsyncClient, auth, content: bytes, month: str = MONTH, **params: str) -> httpx.Response:
    return await api.post("/base-adjustments", params=params,
                          data={"city": CITY, "effective_month": month, "reason": "京人社发〔2026〕号：2026 年度缴费基数"},
                          files={"file": ("wages.csv", content, "text/csv")}, headers=auth(Role.HR_SPECIALIST, MAKER))


async def view(api, auth, wf: str) -> dict:
    r = await api.get(f"/base-adjustments/{wf}", headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    return r.json()


async def wait_stage(api, auth, wf: str, stage: str) -> dict:
    last: dict = {}

    async def probe() -> dict | None:
        last["v"] = v = await view(api, auth, wf)
        return v if v["stage"] == stage else None
    try:
        return await eventually(probe)
    except AssertionError:
        raise AssertionError(f"never {stage}; last view: {last.get('v')}") from None


async def post(api, auth, wf: str, action: str, role: Role, user: str, body: dict) -> httpx.Response:
    return await api.post(f"/base-adjustments/{wf}/{action}", json=body, headers=auth(role, user))


async def lines(api, auth, wf: str) -> dict[str, dict]:
    r = await api.get(f"/base-adjustments/{wf}/lines", params={"limit": 500}, headers=auth(Role.FINANCE, "fin.zhou"))
    assert r.status_code == 200, r.text
    return {ln["employee_id"]: ln for ln in r.json()["items"]}


def batch_of(api_session_factory, agency, emp: str, *, leave_case: bool = True) -> People:
    """The batch's people: A adjusted, B raised to the floor, C capped, D unchanged, E without a
    wage, F leaving, G on maternity leave, H the agency refuses."""
    p = People(emp)
    base = abs(hash(emp)) % 1_000_000 * 10
    hire(api_session_factory, agency, p("A"), base + 1, "10000.00")
    hire(api_session_factory, agency, p("B"), base + 2, "7162.00")
    hire(api_session_factory, agency, p("C"), base + 3, "35811.00")
    hire(api_session_factory, agency, p("D"), base + 4, "12000.00")
    hire(api_session_factory, agency, p("E"), base + 5, "9000.00")
    hire(api_session_factory, agency, p("F"), base + 6, "9000.00", employment_status="notice_given",
         leaving_on=dt.date(2026, 12, 31))
    hire(api_session_factory, agency, p("G"), base + 7, "10000.00", si_status=ON_LEAVE_STATUS)
    hire(api_session_factory, agency, p("H"), base + 8, "10000.00")
    if leave_case:
        with api_session_factory.begin() as s:  # her leave case, as the maternity process opened it
            s.add(Case(workflow_id=f"maternity-leave-{p('G')}-1", kind="maternity", employee_id=p("G"),
                       stage="on_leave", status="open", opened_at=dt.datetime.now(dt.UTC)))
    return p


def wage_file(p: People) -> bytes:
    return wages([(p("A"), "12000.00"), (p("B"), "5000.00"), (p("C"), "50000.00"), (p("D"), "12000.00"),
                  (p("F"), "15000.00"), (p("G"), "12000.00"), (p("H"), "12000.00")])


async def test_batch_partly_refused_corrected_and_declared(stack, auth, emp, temporal_env, session_factory,
                                                           agency: SimulatedAgency, faults: FaultPlan) -> None:
    api = stack
    p = batch_of(session_factory, agency, emp)
    faults.reject[p("H")] = ("base_mismatch", "申报基数与工资台账不符 (the base does not match the wage ledger)")
    r = await start(api, auth, wage_file(p))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    assert wf.startswith("base-adjustment-beijing-2026-07-")
    v = await wait_stage(api, auth, wf, "submitted")

    got = await lines(api, auth, wf)
    mine = {k: got[k] for k in got if k.startswith(emp)}
    assert {k[-1]: (ln["outcome"], ln["new_base"], ln["state"]) for k, ln in mine.items()} == {
        "A": ("adjusted", "12000.00", "pending"), "B": ("raised_to_floor", "7270.00", "pending"),
        "C": ("capped_at_ceiling", "36348.00", "pending"), "D": ("unchanged", "12000.00", "unchanged"),
        "E": ("no_wage", None, "exception"), "F": ("departing", None, "exception"),
        "G": ("adjusted", "12000.00", "pending"), "H": ("adjusted", "12000.00", "pending")}
    assert got[p("G")]["flags"] == ["on_maternity_leave"]
    assert got[p("B")]["rule"].startswith("低于下限，按下限核定")  # the rule is stated with every line
    # Monthly change, by hand: A, G, H +2,000 (employee 8%+2%+0.5% = 210.00, employer pension 16% =
    # 320.00); B +108 (11.34, 17.28); C +537 (56.38, 85.92: 0.5% of 35,811 is 179.055, billed 179.06).
    t = v["totals"]
    assert Decimal(t["monthly_total"]) == 3 * Decimal("530.00") + Decimal("28.62") + Decimal("142.30")
    assert Decimal(t["monthly_employee"]["unemployment"]) == 3 * Decimal("10.00") + Decimal("0.54") + Decimal("2.68")
    today = await env_today(temporal_env)
    months = (today.year - 2026) * 12 + today.month - 7  # July up to the month before the declaration
    assert len(t["back_pay_months"]) == months and Decimal(t["back_pay_total"]) == Decimal(t["monthly_total"]) * months
    assert t["undecided"] == 1 and t["pending"] == 5

    # No approval while an insured employee has no wage; the maker excludes her.
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": t["back_pay_total"]})
    assert r.status_code == 422 and "没有工资" in r.text, r.text
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "已于 6 月调往上海，工资由上海发放", "lines": [{"employee_id": p("E"), "exclude": True}]})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["undecided"] == 0
    # The maker does not approve her own batch; an approval without the total, or a stale one, is refused.
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, MAKER, {"confirm_total": t["back_pay_total"]})
    assert r.status_code == 403 and r.json()["error"] == "self_approval"
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {})
    assert r.status_code == 409 and r.json()["error"] == "confirmation_required"
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": "1.00"})
    assert r.status_code == 409 and r.json()["error"] == "stale_confirmation"
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": t["back_pay_total"]})
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text

    await temporal_env.sleep(dt.timedelta(hours=73))
    v = await wait_stage(api, auth, wf, "returned")
    got = await lines(api, auth, wf)
    assert got[p("H")]["state"] == "refused" and got[p("H")]["refusal_code"] == "base_mismatch"
    assert {got[p(x)]["state"] for x in "ABCG"} == {"accepted"}
    assert got[p("A")]["back_pay_months"] == v["totals"]["back_pay_months"]
    assert Decimal(got[p("A")]["back_pay_employee"]) == Decimal("210.00") * months
    with session_factory() as s:
        bases = dict(s.execute(select(SiEnrollment.employee_id, SiEnrollment.base).where(
            SiEnrollment.employee_id.like(f"{emp}%"), SiEnrollment.status == "active")).all())
        assert (bases[p("A")], bases[p("B")], bases[p("C")], bases[p("H")]) == (
            Decimal("12000.00"), Decimal("7270.00"), Decimal("36348.00"), Decimal("10000.00"))
        assert s.get(Employee, p("A")).contribution_base == Decimal("12000.00")
        advance = s.scalar(select(Receivable).where(Receivable.employee_id == p("G")))
        assert (advance.kind, advance.month, advance.amount, advance.workflow_id) == (
            BASE_DIFFERENCE, MONTH, Decimal("210.00") * months, f"maternity-leave-{p('G')}-1")
    assert got[p("G")]["advanced_by"] == f"maternity-leave-{p('G')}-1"

    # The agency fixed its ledger: the maker sends H again, the checker approves round 2.
    faults.reject.pop(p("H"))
    r = await post(api, auth, wf, "resubmit", Role.HR_SPECIALIST, MAKER, {"reason": "nothing to resend yet"})
    assert r.status_code == 422, r.text  # nothing pending: the refused line must be corrected first
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "经办机构已更正工资台账，按原基数重报", "lines": [{"employee_id": p("H"), "base": "12000.00"}]})
    assert r.status_code == 200 and r.json()["totals"]["pending"] == 1, r.text
    r = await post(api, auth, wf, "resubmit", Role.HR_SPECIALIST, MAKER, {"reason": "经办机构已更正"})
    assert r.status_code == 200 and r.json()["stage"] == "submitted", r.text
    total = r.json()["totals"]["back_pay_total"]
    assert Decimal(total) == Decimal("530.00") * months
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": total})
    assert r.status_code == 200, r.text
    await temporal_env.sleep(dt.timedelta(hours=73))
    v = await wait_stage(api, auth, wf, "declared")
    assert v["round"] == 2 and {pg["round"] for pg in v["pages"]} == {1, 2}
    assert v["totals"]["by_state"]["accepted"] >= 5

    r = await api.get(f"/base-adjustments/{wf}/results.csv", headers=auth(Role.FINANCE, "fin.zhou"))
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    rows = {row[1]: row for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))}
    assert rows[p("H")][7] == "已受理 (accepted)" and rows[p("E")][7] == "已排除 (excluded)"
    assert rows[p("B")][5].startswith("低于下限") and rows[p("G")][6].startswith("产假期间照常调整")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SimAgencyRequest).where(
            SimAgencyRequest.operation == "declare_bases", SimAgencyRequest.reference.like(f"{wf}:%"))) == len(v["pages"])
        assert verify_chain(s).ok
    # An employee's look is 404 (not hers); the lines are for HR, finance and compliance only.
    r = await api.get(f"/base-adjustments/{wf}/lines", headers=auth(Role.IT, "it.sun"))
    assert r.status_code == 403
    await record_history(temporal_env.client, wf, "base_adjustment", "partly_refused_then_declared")
    await record_history(temporal_env.client, f"{wf}-r1-part1", "base_adjustment_part", "two_pages_one_refusal")


async def test_correction_inside_the_window_voids_the_approval(stack, auth, emp, temporal_env, session_factory,
                                                               agency: SimulatedAgency) -> None:
    api = stack
    p = batch_of(session_factory, agency, emp, leave_case=False)
    wf = (await start(api, auth, wage_file(p), "2026-08")).json()["workflow_id"]
    t = (await wait_stage(api, auth, wf, "submitted"))["totals"]
    await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
               {"reason": "调往上海", "lines": [{"employee_id": p("E"), "exclude": True}]})
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": t["back_pay_total"]})
    assert r.status_code == 200, r.text
    await temporal_env.sleep(dt.timedelta(hours=24))
    # Inside the window: the maker finds A's wage left out her year-end bonus.
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "漏计年终奖，已电话 13812345678 与本人（110105194912310021）核实",
                    "lines": [{"employee_id": p("A"), "base": "13000.00"}]})
    assert r.status_code == 200, r.text
    # A number typed into a reason is masked before it is stored: the line, the audit trail.
    masked = "漏计年终奖，已电话 138****5678 与本人（110105********0021）核实"
    assert (await lines(api, auth, wf))[p("A")]["note"] == masked
    with session_factory() as s:
        kept = s.scalars(select(AuditEvent.after).where(AuditEvent.action == "base_adjustment.line_corrected",
                                                        AuditEvent.subject == p("A"))).all()
        assert [a["reason"] for a in kept] == [masked]
    v = r.json()
    assert v["stage"] == "submitted" and v["approver"] is None and "作废" in v["note"]
    # A base outside the notice's limits, an employee not in the batch: refused, nothing changed.
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "x", "lines": [{"employee_id": p("A"), "base": "14000.00"},
                                             {"employee_id": p("B"), "base": "40000.00"}]})
    assert r.status_code == 422 and "36348" in r.text, r.text
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "x", "lines": [{"employee_id": "NOBODY", "base": "9000.00"}]})
    assert r.status_code == 422, r.text
    assert (await lines(api, auth, wf))[p("A")]["new_base"] == "13000.00"
    # The old approval's total no longer confirms anything; the new one does.
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": t["back_pay_total"]})
    assert r.status_code == 409 and r.json()["error"] == "stale_confirmation"
    months = len(v["totals"]["back_pay_months"])
    assert Decimal(v["totals"]["back_pay_total"]) - Decimal(t["back_pay_total"]) == Decimal("265.00") * months
    r = await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": v["totals"]["back_pay_total"]})
    assert r.status_code == 200, r.text
    # The approver revokes her approval inside the window; another manager may not.
    r = await post(api, auth, wf, "revoke", Role.HR_MANAGER, "mgr.zhao", {"reason": "不是我批的"})
    assert r.status_code == 403
    r = await post(api, auth, wf, "revoke", Role.HR_MANAGER, CHECKER, {"reason": "等财务确认预算"})
    assert r.status_code == 200 and r.json()["stage"] == "submitted"
    await temporal_env.sleep(dt.timedelta(hours=80))
    assert (await view(api, auth, wf))["stage"] == "submitted"  # nothing reached the agency
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SimAgencyRequest).where(
            SimAgencyRequest.reference.like(f"{wf}:%"))) == 0
    r = await post(api, auth, wf, "withdraw", Role.HR_SPECIALIST, MAKER, {"reason": "通知更正后重新发起"})
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn"
    await record_history(temporal_env.client, wf, "base_adjustment", "corrected_in_window_then_withdrawn")


async def test_revocation_after_declaration_restores_bases_and_advances(
        stack, auth, emp, temporal_env, session_factory, agency: SimulatedAgency) -> None:
    api = stack
    p = batch_of(session_factory, agency, emp)
    wf = (await start(api, auth, wage_file(p), "2026-09")).json()["workflow_id"]
    await wait_stage(api, auth, wf, "submitted")
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "调往上海", "lines": [{"employee_id": p("E"), "exclude": True}]})
    total = r.json()["totals"]["back_pay_total"]
    await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": total})
    await temporal_env.sleep(dt.timedelta(hours=73))
    v = await wait_stage(api, auth, wf, "declared")
    assert len(v["pages"]) == 2  # five lines, three a page
    r = await post(api, auth, wf, "revoke", Role.HR_SPECIALIST, MAKER, {"reason": "x"})
    assert r.status_code == 403  # after the declaration only an hr_manager revokes
    r = await post(api, auth, wf, "revoke", Role.HR_MANAGER, CHECKER, {"reason": "通知数字有误，整批撤销"})
    assert r.status_code == 200 and r.json()["stage"] == "revoked", r.text
    got = await lines(api, auth, wf)
    assert {got[p(x)]["state"] for x in "ABCGH"} == {"revoked"}
    with session_factory() as s:
        bases = dict(s.execute(select(SiEnrollment.employee_id, SiEnrollment.base).where(
            SiEnrollment.employee_id.like(f"{emp}%"), SiEnrollment.status == "active")).all())
        assert (bases[p("A")], bases[p("B")], bases[p("C")]) == (Decimal("10000.00"), Decimal("7162.00"),
                                                                 Decimal("35811.00"))
        assert s.get(Employee, p("B")).contribution_base == Decimal("7162.00")
        advance = s.scalar(select(Receivable).where(Receivable.employee_id == p("G")))
        assert advance.reversed == advance.amount > 0  # her advanced share taken back, not owed
        revocations = s.scalar(select(func.count()).select_from(SimAgencyRequest).where(
            SimAgencyRequest.operation == "revoke", SimAgencyRequest.reference.like(f"{wf}:%")))
        assert revocations == 2
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "revoked"
    await record_history(temporal_env.client, wf, "base_adjustment", "declared_then_revoked")

    # The corrected notice, declared again for the same month: her share is owed again, and the
    # revoked batch's reversed receivable is never taken for it: finance is told to book it by hand.
    again = (await start(api, auth, wage_file(p), "2026-09")).json()["workflow_id"]
    assert again != wf
    await wait_stage(api, auth, again, "submitted")
    r = await post(api, auth, again, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "调往上海", "lines": [{"employee_id": p("E"), "exclude": True}]})
    await post(api, auth, again, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": r.json()["totals"]["back_pay_total"]})
    await temporal_env.sleep(dt.timedelta(hours=73))
    await wait_stage(api, auth, again, "declared")
    g = (await lines(api, auth, again))[p("G")]
    assert g["state"] == "accepted" and g["advanced_by"] is None and "手工记账" in g["note"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Receivable).where(Receivable.employee_id == p("G"))) == 1


async def test_a_bad_wage_file_starts_nothing(stack, auth, emp, session_factory, agency: SimulatedAgency) -> None:
    api = stack
    p = batch_of(session_factory, agency, emp, leave_case=False)
    bad = wages([(p("A"), "12000.00"), (p("B"), "abc"), (p("A"), "13000.00"), ("NOBODY", "9000.00"),
                 (p("C"), "-5"), (p("D"), "12000.123")])
    r = await start(api, auth, bad)
    assert r.status_code == 422, r.text
    found = {(i["row"], i["field"], i["rule"]) for i in r.json()["detail"]}
    assert (4, "employee_id", "duplicate_in_file") in found and (5, "employee_id", "employee_exists") in found
    assert {row for row, field, _ in found if field == "average_wage"} == {3, 6, 7}
    assert all(i["message"].startswith("第 ") for i in r.json()["detail"])
    r = await start(api, auth, bad, dry_run="true")
    assert r.status_code == 200 and len(r.json()["problems"]) == len(found)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BaseAdjustment)) == 0
        assert s.scalar(select(func.count()).select_from(BaseAdjustmentWage)) == 0
        assert s.scalar(select(func.count()).select_from(BaseAdjustmentLine)) == 0
    r = await api.post("/base-adjustments", data={"city": "Atlantis", "effective_month": MONTH, "reason": "x"},
                       files={"file": ("w.csv", wage_file(p), "text/csv")}, headers=auth(Role.HR_SPECIALIST, MAKER))
    assert r.status_code == 422, r.text
    r = await api.post("/base-adjustments", data={"city": CITY, "effective_month": MONTH, "reason": "x"},
                       files={"file": ("w.csv", wage_file(p), "text/csv")}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 403  # the maker is an hr_specialist


async def test_her_leave_case_learns_the_new_base_and_owes_her_share(
        stack, auth, emp, temporal_env, session_factory, agency: SimulatedAgency) -> None:
    """The employee is the unit of truth: her maternity case hears of the batch, owes her advanced
    share of the back-payment once, advances later months on the new base, and hears of the revocation."""
    from tests.processes.test_maternity import start_leave

    api = stack
    with session_factory.begin() as s:  # the stack's employee, insured in Beijing at 10,000
        s.add(SiEnrollment(employee_id=emp, city=INSURED_IN, status="active", base=Decimal("10000.00"),
                           since_month="2021-03", opened_by="seed"))
    agency.submit(AgencySubmission(reference=f"seed:{emp}", employee_id=emp, resident_id_number="11010519491231002X",
                                   city=INSURED_IN, kind="enrollment", base="10000.00", months=[],
                                   effective_month="2021-03"))
    leave, _ = await start_leave(api, auth, temporal_env, emp)
    r = await start(api, auth, wages([(emp, "12000.00")]), "2026-10")
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    t = (await wait_stage(api, auth, wf, "submitted"))["totals"]
    assert (await lines(api, auth, wf))[emp]["flags"] == ["on_maternity_leave"]
    await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": t["back_pay_total"]})
    await temporal_env.sleep(dt.timedelta(hours=73))
    v = await wait_stage(api, auth, wf, "declared")
    share = Decimal("210.00") * len(v["totals"]["back_pay_months"])
    assert share > 0

    async def her_case() -> dict:
        r = await api.get(f"/maternity-leaves/{leave}", headers=auth(Role.HR_SPECIALIST, MAKER))
        return r.json()

    m = await eventually(lambda: _with(her_case, lambda v: v["base_differences"]))
    assert list(m["base_differences"].values()) == [str(share)]
    assert Decimal(m["outstanding"]) == sum(Decimal(a) for a in m["advances_booked"].values()) + share
    with session_factory() as s:
        booked = s.scalar(select(Receivable).where(Receivable.employee_id == emp, Receivable.kind == BASE_DIFFERENCE))
        assert (booked.workflow_id, booked.amount) == (leave, share)

    r = await post(api, auth, wf, "revoke", Role.HR_MANAGER, CHECKER, {"reason": "通知数字有误"})
    assert r.status_code == 200 and r.json()["stage"] == "revoked", r.text
    m = await eventually(lambda: _with(her_case, lambda v: len(v["base_differences"]) == 2))
    assert sum(Decimal(a) for a in m["base_differences"].values()) == 0
    await record_history(temporal_env.client, wf, "base_adjustment", "leave_case_told_then_revoked")
    assert Decimal(m["outstanding"]) == sum(Decimal(a) for a in m["advances_booked"].values())


async def _with(read, check) -> dict | None:
    """``read()``'s answer once ``check`` holds of it (for ``eventually``)."""
    value = await read()
    return value if check(value) else None


async def test_a_page_refused_whole_goes_back_to_the_maker(stack, auth, emp, temporal_env, session_factory,
                                                           agency: SimulatedAgency, faults: FaultPlan) -> None:
    api = stack
    p = batch_of(session_factory, agency, emp, leave_case=False)
    faults.max_declaration_lines = 2  # this agency takes two lines a declaration; the batch sends three
    wf = (await start(api, auth, wage_file(p), "2026-11")).json()["workflow_id"]
    await wait_stage(api, auth, wf, "submitted")
    r = await post(api, auth, wf, "correct", Role.HR_SPECIALIST, MAKER,
                   {"reason": "调往上海", "lines": [{"employee_id": p("E"), "exclude": True}]})
    await post(api, auth, wf, "approve", Role.HR_MANAGER, CHECKER, {"confirm_total": r.json()["totals"]["back_pay_total"]})
    with session_factory.begin() as s:  # G gives notice inside the window: her stop is her offboarding's
        s.execute(update(Employee).where(Employee.employee_id == p("G")).values(
            employment_status="notice_given", leaving_on=dt.date(2027, 1, 31)))
    await temporal_env.sleep(dt.timedelta(hours=73))
    v = await wait_stage(api, auth, wf, "returned")
    got = await lines(api, auth, wf)
    assert {(got[p(x)]["state"], got[p(x)]["refusal_code"]) for x in "ABC"} == {("refused", "page_refused")}
    assert "at most 2 lines" in got[p("A")]["refusal_reason"]
    # The agency's refusal reached the part's history as a failure: encrypted like every payload.
    raw = (await temporal_env.client.get_workflow_handle(f"{wf}-r1-part1").fetch_history()).to_json()
    assert "at most 2 lines" not in raw and "Encoded failure" in raw
    assert (got[p("G")]["state"], got[p("G")]["outcome"]) == ("exception", "departing") and got[p("G")]["note"]
    assert got[p("H")]["state"] == "accepted" and len(v["pages"]) == 1
    with session_factory() as s:
        declared = s.scalar(select(SimAgencyRequest.payload).where(SimAgencyRequest.operation == "declare_bases",
                                                                   SimAgencyRequest.reference.like(f"{wf}:%:p2")))
        assert [ln["employee_id"] for ln in declared["lines"]] == [p("H")]  # G never reached the agency
    with session_factory() as s:  # nothing of the refused page reached her record
        assert s.get(Employee, p("A")).contribution_base == Decimal("10000.00")
    r = await post(api, auth, wf, "finish", Role.HR_MANAGER, CHECKER, {"reason": "A、B、C 改到窗口单独申报"})
    assert r.status_code == 200 and r.json()["stage"] == "declared", r.text
    r = await post(api, auth, wf, "withdraw", Role.HR_SPECIALIST, MAKER, {"reason": "x"})
    assert r.status_code == 409  # part of it is at the agency: revoke, not withdraw
    await temporal_env.sleep(dt.timedelta(days=31))  # the agency's revocation window passes
    await wait_stage(api, auth, wf, "completed")
    r = await post(api, auth, wf, "revoke", Role.HR_MANAGER, CHECKER, {"reason": "x"})
    assert r.status_code in (404, 409)
    await record_history(temporal_env.client, wf, "base_adjustment", "page_refused_whole_then_closed")
    await record_history(temporal_env.client, f"{wf}-r1-part1", "base_adjustment_part", "page_refused_whole")
