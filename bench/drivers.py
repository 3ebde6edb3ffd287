"""Real-time drivers: one case of each process from its first request to its end, through the API.

Each driver acts as the people of the process would (HR, the checker, finance, IT, the receiver,
the agency integration), through the real routes, and waits for the case to finish. Where a
person would first see the case reach a stage, the driver polls the database (``cases.stage``,
``approval_tasks``, ``transfer_branches``) every 0.2 s; it never polls a workflow query, which
would load the Temporal server the benchmark is measuring.

Dates are chosen so that every timer of the scenario lies in the past (the dev server runs in
real time): a maternity leave that ended weeks ago and is registered now, a mutual-agreement
departure whose last day has passed, a non-compete whose twelve months have run. The workflows
then fire those timers at once and do all the work a months-long case does. Each scenario, step
by step, is in ``SCENARIOS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, text

from domain.roles import Role

HR, MANAGER, FINANCE, IT, RECEIVER, OPS = "hr.li", "mgr.wang", "fin.zhao", "it.qian", "E0042", "ops"
# One blank A4 page with true cross-reference offsets: uploads are judged by their structure.
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n"
       b"2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n"
       b"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>\nendobj\nxref\n0 4\n0000000000 65535 f \n"
       b"0000000015 00000 n \n0000000060 00000 n \n0000000111 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\n"
       b"startxref\n176\n%%EOF\n")
POLL = 0.2

SCENARIOS = {
    "si_change": "enrollment in Beijing: submit, the checker approves from the inbox, rollback window 0 h,"
                 " executed at the (simulated) agency, follow-up 0 days, completed",
    "maternity": "leave registered after the fact (delivery 200 days ago): approve, leave starts, 5 monthly"
                 " advances booked, reminder, return overdue; birth reported (allowance claimed), return"
                 " confirmed, advances reconciled, finance confirms the deduction, closed",
    "offboarding": "mutual agreement, last day 5 days ago, enrolled in Beijing: risk assessment, gates opened,"
                   " last-day steps (access, enrollment stop by a child si_change, housing fund, certificate,"
                   " final pay), departed; handover, IT and HR final sign-offs, both filings, completed",
    "transfer": "Guiyang to Harbin, pension + medical + housing fund: apply, upload every required document,"
                " HR approves, the agency reports every step of every branch, completed",
    "non_compete": "12 months starting 380 days ago, registered now: 12 catch-up payments (continue-as-new"
                   " after 6), term ended, completed",
}


class DriverError(RuntimeError):
    pass


@dataclass
class Ctx:
    """What a driver needs: the API, the Temporal client, the database and tokens."""

    api: httpx.AsyncClient
    temporal: Any
    engine: Engine
    tokens: Callable[[Role, str, str | None], dict[str, str]]
    today: dt.date = field(default_factory=dt.date.today)
    timeout: float = 600.0
    _headers: dict[tuple[Role, str, str | None], dict[str, str]] = field(default_factory=dict)
    polls: int = 0  # database look-ups made while waiting for a case (the harness's cost, not hrflow's)

    def auth(self, role: Role, user: str, employee: str | None = None) -> dict[str, str]:
        key = (role, user, employee)
        if key not in self._headers:
            self._headers[key] = self.tokens(role, user, employee)
        return self._headers[key]

    async def post(self, path: str, body: dict[str, Any] | None, role: Role, user: str,
                   employee: str | None = None, *, files: Any = None) -> dict[str, Any]:
        """POST; a 409 ``wrong_stage`` right after the database showed the stage is the workflow
        catching up with its own record: try again briefly."""
        for attempt in range(50):
            if files is not None:
                r = await self.api.post(path, files=files, headers=self.auth(role, user, employee))
            else:
                r = await self.api.post(path, json=body or {}, headers=self.auth(role, user, employee))
            if r.status_code in (200, 201):
                return r.json()
            if r.status_code == 409 and r.json().get("error") == "wrong_stage" and attempt < 49:
                await asyncio.sleep(POLL)
                continue
            raise DriverError(f"POST {path} -> {r.status_code}: {r.text[:500]}")
        raise AssertionError("unreachable")

    async def scalar(self, sql: str, **params: Any) -> Any:
        self.polls += 1

        def run() -> Any:
            with self.engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        return await asyncio.to_thread(run)

    async def until(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            value = await probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DriverError(f"timed out waiting for {what}")
            await asyncio.sleep(POLL)

    async def stage(self, wf: str, *stages: str) -> None:
        async def probe() -> bool:
            return await self.scalar("SELECT stage FROM cases WHERE workflow_id = :wf", wf=wf) in stages
        await self.until(f"{wf} at {stages}", probe)

    async def task_open(self, wf: str, key_prefix: str) -> None:
        async def probe() -> bool:
            return bool(await self.scalar(
                "SELECT count(*) FROM approval_tasks WHERE workflow_id = :wf AND status = 'open'"
                " AND task_key LIKE :key", wf=wf, key=key_prefix + "%"))
        await self.until(f"{wf} task {key_prefix}", probe)

    async def finished(self, wf: str) -> None:
        await asyncio.wait_for(self.temporal.get_workflow_handle(wf).result(), self.timeout)


# ---------------------------------------------------------------- the five processes
async def si_change(ctx: Ctx, emp: str) -> str:
    started = await ctx.post("/si-changes", {"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                                             "effective_month": f"{ctx.today:%Y-%m}", "reason": "new hire"},
                             Role.HR_SPECIALIST, HR)
    wf = started["workflow_id"]
    await ctx.task_open(wf, "approve")
    await ctx.post(f"/si-changes/{wf}/approve", {}, Role.HR_MANAGER, MANAGER)
    await ctx.finished(wf)
    return wf


async def maternity(ctx: Ctx, emp: str) -> str:
    due = ctx.today - dt.timedelta(days=200)
    v = await ctx.post("/maternity-leaves", {"employee_id": emp, "expected_delivery_date": due.isoformat(),
                                             "company_pays_salary": False, "employer_average_wage": "12000.00"},
                       Role.HR_SPECIALIST, HR)
    wf = v["workflow_id"]
    await ctx.task_open(wf, "approve")
    await ctx.post(f"/maternity-leaves/{wf}/approve", {}, Role.HR_SPECIALIST, HR)
    await ctx.stage(wf, "return_overdue")
    v = await ctx.post(f"/maternity-leaves/{wf}/birth", {"birth_date": due.isoformat()}, Role.HR_SPECIALIST, HR)
    v = await ctx.post(f"/maternity-leaves/{wf}/return", {"date": v["expected_return"]}, Role.HR_SPECIALIST, HR)
    await ctx.stage(wf, "deducting")
    await ctx.post(f"/maternity-leaves/{wf}/deductions", {"amount": v["outstanding"], "reference": "PAY-1"},
                   Role.FINANCE, FINANCE)
    await ctx.finished(wf)
    return wf


async def offboarding(ctx: Ctx, emp: str) -> str:
    notice, last = ctx.today - dt.timedelta(days=20), ctx.today - dt.timedelta(days=5)
    await ctx.post("/offboardings", {
        "employee_id": emp, "kind": "mutual_agreement", "notice_date": notice.isoformat(),
        "agreed_last_day": last.isoformat(), "monthly_wage": "10000.00", "minimum_wage": "2540.00",
        "economic_compensation": "20000.00",
        "handover": [{"key": "clients", "title": "Client portfolio and open orders", "receiver": RECEIVER}]},
        Role.HR_SPECIALIST, HR)
    wf = f"offboarding-{emp}-{notice.isoformat()}"
    await ctx.stage(wf, "departed")
    sign = f"/offboardings/{wf}/sign-off"
    await ctx.post(sign, {"gate": "handover", "item_key": "clients", "outcome": "handed_over"}, Role.EMPLOYEE, RECEIVER)
    await ctx.post(sign, {"gate": "it", "item_key": "accounts", "outcome": "revoked"}, Role.IT, IT)
    await ctx.post(sign, {"gate": "hr_final", "item_key": "final", "outcome": "approved"}, Role.HR_MANAGER, MANAGER)
    for filing in ("labour_filing", "archive_and_insurance_transfer"):
        await ctx.post(f"/offboardings/{wf}/filings", {"filing": filing, "reference": f"REF-{filing}"},
                       Role.HR_SPECIALIST, HR)
    await ctx.finished(wf)
    return wf


async def transfer(ctx: Ctx, emp: str) -> str:
    v = await ctx.post("/transfers", {"employee_id": emp, "origin_city": "贵阳", "destination_city": "哈尔滨",
                                      "types": ["pension", "medical", "housing_fund"],
                                      "reason": "relocated to the Harbin branch"}, Role.EMPLOYEE, emp, emp)
    wf = v["workflow_id"]
    codes = sorted({c for cs in v["required_materials"].values() for c in cs})

    async def row() -> bool:
        return bool(await ctx.scalar("SELECT 1 FROM transfers WHERE workflow_id = :wf", wf=wf))
    await ctx.until(f"{wf} recorded", row)
    for code in codes:
        await ctx.post(f"/transfers/{wf}/materials/{code}", None, Role.EMPLOYEE, emp, emp,
                       files={"file": (f"{code}.pdf", PDF, "application/pdf")})
    await ctx.stage(wf, "awaiting_review")
    v = await ctx.post(f"/transfers/{wf}/review", {"approve": True}, Role.HR_SPECIALIST, HR)
    for branch in v["branches"]:
        kind = branch["kind"]

        async def transferring(kind: str = kind) -> bool:
            return bool(await ctx.scalar("SELECT 1 FROM transfer_branches WHERE workflow_id = :wf AND kind = :k"
                                         " AND status = 'transferring'", wf=wf, k=kind))
        await ctx.until(f"{wf} {kind} transferring", transferring)
        for step in branch["steps"]:
            await ctx.post(f"/transfers/{wf}/agency-progress",
                           {"kind": kind, "step": step["code"], "status": "done",
                            "reference": f"{kind}-{step['code']}"},
                           Role.ADMIN, OPS)
    await ctx.finished(wf)
    return wf


async def non_compete(ctx: Ctx, emp: str) -> str:
    start = ctx.today - dt.timedelta(days=380)
    v = await ctx.post("/non-competes", {"employee_id": emp, "start": start.isoformat(), "months": 12,
                                         "monthly_compensation": "4500.00", "payday": 10}, Role.HR_SPECIALIST, HR)
    wf = v["workflow_id"]
    await ctx.finished(wf)
    return wf


DRIVERS: dict[str, Callable[[Ctx, str], Awaitable[str]]] = {
    "si_change": si_change, "maternity": maternity, "offboarding": offboarding, "transfer": transfer,
    "non_compete": non_compete,
}


def prepare(stack: Any, process: str, employees: list[str]) -> None:
    """What the process needs on record before its cases start: the employees, and for
    offboarding an active Beijing enrollment at the (simulated) agency and on our books."""
    stack.add_employees(employees)
    if process != "offboarding":
        return
    from decimal import Decimal

    from db.models import SiEnrollment
    from db.session import make_engine
    from hrflow.temporal import sealing_sessions
    from integrations.si_agency import AgencySubmission, FaultPlan, SimulatedAgency

    engine = make_engine(stack.database_url, pool_size=2)
    factory = sealing_sessions(stack.settings(), engine)
    agency = SimulatedAgency(factory, FaultPlan())
    with factory.begin() as s:
        s.add_all([SiEnrollment(employee_id=emp, city="beijing", status="active", base=Decimal("10000.00"),
                                since_month="2025-01", opened_by="seed") for emp in employees])
    from sqlalchemy import select

    from db.models import Employee
    with factory() as s:
        ids = {e.employee_id: e.resident_id_number
               for e in s.scalars(select(Employee).where(Employee.employee_id.in_(employees)))}
    for emp in employees:
        agency.submit(AgencySubmission(reference=f"seed-{emp}", employee_id=emp, resident_id_number=ids[emp],
                                       city="beijing", kind="enrollment", base="10000.00", months=[],
                                       effective_month="2025-01"))
    engine.dispose()
