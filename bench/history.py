"""History: events per workflow for the longest lawful scenario of each process.

    python -m bench.history --size small|full [--handover N]

Each scenario runs on its own time-skipping test server (``temporal-test-server``, as
``tests/conftest.py`` ``temporal_env``), so months pass in seconds, with the real API (ASGI, in
this process), real PostgreSQL and the worker of the tests (``build_worker`` in this process, the
simulated agency). The people are played with the drivers of ``tests/processes``.

"Longest lawful" means every stage the process has, with each loop at the count its rules allow
at most: the full leave with twins, a difficult birth and an extension, every monthly advance, 24
deduction instalments (``HRFLOW_MATERNITY_DEDUCTION_INSTALLMENTS`` at its maximum); a departure
with records in every gate, an escalation, a refused withdrawal, the last-day steps, late filings,
items carried on and closed, and a 24-month non-compete; a transfer of all four types with weekly
reminders up to the give-up limit, a return for a fix and every step overdue; an enrollment change
that is rejected, corrected, approved, revoked in the window, refused by the agency, corrected,
executed and revoked at the agency. Loops with no legal bound (a checker may reject a correction
any number of times) run once; the table says what one more round costs where it matters.

Counted from the histories: events per run (the largest run is the figure; target < 1,000), and
for the non-compete every run of the 24 months (target: a few hundred per run, checked as < 300,
the bound ``tests/processes/test_non_compete.py`` asserts). Child workflows are counted on
their own.

Sizes: tiny runs the si_change scenario only; small runs all five with 10 handover items; full
with 100 handover items (the API's maximum).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.common import Stack, Table, binary, finish, machine_facts, print_facts, say, size_arg, verdict
from domain.roles import Role

TARGET = 1000
NON_COMPETE_RUN_TARGET = 300
HR, MANAGER, CHECKER, FINANCE, COMPLIANCE, IT = "hr.li", "mgr.wang", "mgr.wang", "fin.zhao", "cmp.sun", "it.qian"


@dataclass
class Harness:
    api: Any
    auth: Any
    env: Any
    session_factory: Any
    emp: str
    faults: Any
    settings: Any
    handover: int

    async def post(self, path: str, body: dict[str, Any] | None, role: Role, user: str, *,
                   employee: str | None = None, expect: int = 200) -> dict[str, Any]:
        r = await self.api.post(path, json=body or {}, headers=self.auth(role, user, employee))
        if r.status_code != expect:
            raise RuntimeError(f"POST {path} -> {r.status_code}: {r.text[:400]}")
        return r.json()


# ---------------------------------------------------------------- scenarios
async def si_change(h: Harness) -> str:
    from tests.processes import test_si_change as sc

    api, auth, env = h.api, h.auth, h.env
    started = await sc.submit(api, auth, sc.BACK_PAY | {"employee_id": h.emp})
    wf = started["workflow_id"]
    await sc.wait_submitted(api, auth, wf)
    base = f"/si-changes/{wf}"
    await h.post(f"{base}/repin", {"reason": "catalogue checked"}, Role.HR_MANAGER, CHECKER)
    await h.post(f"{base}/reject", {"reason": "new hire: normal enrollment"}, Role.HR_MANAGER, CHECKER)
    await h.post(f"{base}/correct", {"reason": "normal enrollment", "kind": "enrollment"}, Role.HR_SPECIALIST, sc.MAKER)
    await h.post(f"{base}/approve", {}, Role.HR_MANAGER, CHECKER)
    await env.sleep(dt.timedelta(hours=10))
    await h.post(f"{base}/revoke", {"reason": "base to be checked"}, Role.HR_MANAGER, CHECKER)
    await h.post(f"{base}/approve", {}, Role.HR_MANAGER, CHECKER)
    h.faults.reject[h.emp] = ("base_mismatch", "base differs from the declared wage")
    await env.sleep(dt.timedelta(hours=73))
    await sc.wait_stage(api, auth, wf, "agency_rejected")
    h.faults.reject.clear()
    await h.post(f"{base}/correct", {"reason": "declared wage fixed", "base": "12000.00"}, Role.HR_SPECIALIST, sc.MAKER)
    await h.post(f"{base}/approve", {}, Role.HR_MANAGER, CHECKER)
    await env.sleep(dt.timedelta(hours=73))
    await sc.wait_stage(api, auth, wf, "executed")
    await h.post(f"{base}/revoke", {"reason": "employee never started"}, Role.HR_MANAGER, CHECKER)
    await env.client.get_workflow_handle(wf).result()
    return wf


async def maternity(h: Harness) -> str:
    from tests.processes import test_maternity as mt
    from tests.processes.support import env_today, until

    api, auth, env, emp = h.api, h.auth, h.env, h.emp
    due = await env_today(env) + dt.timedelta(days=30)
    wf = (await mt.apply(api, auth, emp, due, babies=2, difficult_birth=True,
                         employer_average_wage="12000.00"))["workflow_id"]
    base = f"/maternity-leaves/{wf}"
    await h.post(f"{base}/reject", {"reason": "birth certificate of the hospital missing"}, Role.HR_SPECIALIST, HR)
    await h.post(f"{base}/resubmit", {"reason": "certificate attached", "birth_date": due.isoformat(), "babies": 2,
                                      "difficult_birth": True}, Role.EMPLOYEE, emp)
    v = await h.post(f"{base}/approve", {}, Role.HR_SPECIALIST, HR)
    await until(env, dt.date.fromisoformat(v["leave_start"]))
    await mt.wait_view(api, auth, wf, lambda v: v["stage"] == "on_leave")
    await h.post(f"{base}/birth", {"birth_date": due.isoformat(), "babies": 2, "difficult_birth": True},
                 Role.HR_SPECIALIST, HR)
    await h.post(f"{base}/extensions", {"days": 15, "kind": "medical_certificate", "reason": "complications"},
                 Role.EMPLOYEE, emp)
    v = await h.post(f"{base}/extensions/decision", {"approve": True}, Role.HR_MANAGER, MANAGER)
    await h.post(f"{base}/allowance-payment", {"amount": "75200.00", "reference": "MA-1"}, Role.FINANCE, FINANCE)
    expected_return = dt.date.fromisoformat(v["expected_return"])
    back = expected_return + dt.timedelta(days=h.settings.maternity_return_grace_days + 1)
    await until(env, back)
    await mt.wait_view(api, auth, wf, lambda v: v["stage"] == "return_overdue")
    await h.post(f"{base}/return-report", {"date": back.isoformat()}, Role.EMPLOYEE, emp)
    await h.post(f"{base}/return", {"date": back.isoformat()}, Role.HR_SPECIALIST, HR)
    v = await mt.wait_view(api, auth, wf, lambda v: v["stage"] == "deducting")
    for amount in v["deductions_planned"]:
        await h.post(f"{base}/deductions", {"amount": amount, "reference": "payroll"}, Role.FINANCE, FINANCE)
    await env.client.get_workflow_handle(wf).result()
    return wf


async def offboarding(h: Harness) -> str:
    from db.models import SiEnrollment
    from integrations.si_agency import AgencySubmission, SimulatedAgency
    from tests.processes import test_offboarding as ob
    from tests.processes.support import env_today, until

    api, auth, env, emp = h.api, h.auth, h.env, h.emp
    record = ob.record
    violation = await record(api, auth, emp, Role.COMPLIANCE, COMPLIANCE, "violation", "private trading", "200000.00")
    dispute = await record(api, auth, emp, Role.COMPLIANCE, COMPLIANCE, "dispute", "client complaint")
    loan = await record(api, auth, emp, Role.FINANCE, FINANCE, "loan", "housing loan", "30000.00")
    advance = await record(api, auth, emp, Role.FINANCE, FINANCE, "advance", "travel advance", "5000.00")
    asset = await record(api, auth, emp, Role.IT, IT, "asset", "laptop")
    access = await record(api, auth, emp, Role.IT, IT, "access", "trading terminal")
    with h.session_factory.begin() as s:
        s.add(SiEnrollment(employee_id=emp, city="beijing", status="active", base=Decimal("10000.00"),
                           since_month="2025-01", opened_by="seed"))
    from db.models import Employee
    with h.session_factory() as s:
        rid = s.get(Employee, emp).resident_id_number
    SimulatedAgency(h.session_factory, h.faults).submit(AgencySubmission(
        reference=f"seed-{emp}", employee_id=emp, resident_id_number=rid, city="beijing", kind="enrollment",
        base="10000.00", months=[], effective_month="2025-01"))
    notice = await env_today(env)
    handover = [{"key": f"item-{i}", "title": f"Handover item {i}", "receiver": f"E9{i:04d}"}
                for i in range(h.handover)]
    v = await ob.start(api, auth, emp, notice, handover=handover,
                       non_compete={"months": 24, "average_monthly_wage_12m": "12000.00"})
    wf = v["workflow_id"]
    v = await ob.wait_view(api, auth, wf, lambda v: v["risk"])
    sign = lambda role, user, gate, key, outcome, **kw: h.post(
        f"/offboardings/{wf}/sign-off", {"gate": gate, "item_key": key, "outcome": outcome} | kw, role, user)
    for item in handover:
        await sign(Role.EMPLOYEE, item["receiver"], "handover", item["key"], "handed_over")
    await sign(Role.IT, IT, "it", f"record-{asset}", "returned")
    await sign(Role.IT, IT, "it", "accounts", "revoked")
    await sign(Role.FINANCE, FINANCE, "finance", f"record-{loan}", "deducted_by_agreement", amount="3000.00",
               agreed_in_writing=True, note="deduction agreement D-1")
    # She withdraws her resignation; the manager refuses.
    await h.post(f"/offboardings/{wf}/withdraw", {"reason": "I would like to stay"}, Role.EMPLOYEE, emp)
    await h.post(f"/offboardings/{wf}/withdrawal-decision", {"accept": False, "reason": "position closed"},
                 Role.HR_MANAGER, MANAGER)
    # Compliance, the advance and the terminal access are still open the day before: escalated.
    await until(env, notice + dt.timedelta(days=30))
    await ob.wait_view(api, auth, wf, lambda v: v["certificate_no"] is not None)
    await until(env, notice + dt.timedelta(days=31))
    v = await ob.wait_view(api, auth, wf, lambda v: v["stage"] == "departed")
    await sign(Role.IT, IT, "it", f"record-{access}", "revoked")
    await sign(Role.COMPLIANCE, COMPLIANCE, "compliance", f"record-{violation}", "escalated_to_legal",
               note="loss 200,000: claim under Civil Code art. 1191")
    await sign(Role.COMPLIANCE, COMPLIANCE, "compliance", f"record-{dispute}", "settled_by_agreement")
    await sign(Role.FINANCE, FINANCE, "finance", f"record-{advance}", "to_recovery")
    # The filings are late: reminder, then escalation; then recorded.
    due = dt.date.fromisoformat(v["filing_due"])
    await until(env, due + dt.timedelta(days=2))

    async def escalated() -> bool:
        inbox = (await api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER))).json()["items"]
        return any(i["task_key"].startswith("filings-overdue") for i in inbox)
    from tests.processes.support import eventually
    await eventually(escalated)
    for filing in ("labour_filing", "archive_and_insurance_transfer"):
        await h.post(f"/offboardings/{wf}/filings", {"filing": filing, "reference": f"REF-{filing}"},
                     Role.HR_SPECIALIST, HR)
    # What was carried on is closed: the advance repaid, the legal claim resolved; HR approves.
    await until(env, due + dt.timedelta(days=40))
    await sign(Role.FINANCE, FINANCE, "finance", f"record-{advance}", "repaid", note="repaid after arbitration")
    await sign(Role.COMPLIANCE, COMPLIANCE, "compliance", f"record-{violation}", "resolved", note="award paid")
    await sign(Role.HR_MANAGER, MANAGER, "hr_final", "final", "approved")
    await env.client.get_workflow_handle(wf).result()
    return wf


async def transfer(h: Harness) -> str:
    from tests.processes import test_transfer as tr
    from tests.processes.support import env_today, until

    api, auth, env, emp = h.api, h.auth, h.env, h.emp
    types = ["pension", "medical", "unemployment", "housing_fund"]
    started = await tr.apply(api, auth, emp, tr.GUIYANG_TO_HARBIN | {"types": types})
    wf = started["workflow_id"]
    codes = tr.required(started)
    first_day = await env_today(env)
    await tr.upload_all(api, auth, emp, wf, codes[:-1], h.session_factory)
    await until(env, first_day + dt.timedelta(days=29))  # four weekly reminders, the last day before give-up
    await tr.upload_all(api, auth, emp, wf, codes[-1:], h.session_factory)
    await tr.wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    await h.post(f"/transfers/{wf}/review", {"approve": False, "reason_code": "illegible_document",
                                             "note": "the ID copy is unreadable"}, Role.HR_SPECIALIST, HR)
    await tr.upload_all(api, auth, emp, wf, codes[:1], h.session_factory)
    await tr.wait_view(api, auth, wf, lambda v: v["stage"] == "awaiting_review")
    await h.post(f"/transfers/{wf}/review", {"approve": True}, Role.HR_SPECIALIST, HR)
    while True:  # every step of every branch is late: escalated, then the agency reports it done
        v = await tr.view(api, auth, wf)
        if v["stage"] != "in_progress" and all(b["status"] in ("completed", "rejected") for b in v["branches"]):
            break
        current = [(b["kind"], next(s for s in b["steps"] if not s["done"])) for b in v["branches"]
                   if b["status"] == "transferring" and any(not s["done"] for s in b["steps"])]
        if not current:
            await asyncio.sleep(0.05)
            continue
        dues = [dt.date.fromisoformat(s["due"]) for _, s in current if s.get("due")]
        if dues:
            await until(env, max(dues) + dt.timedelta(days=1))
        for kind, step in current:
            await h.post(f"/transfers/{wf}/agency-progress", {"kind": kind, "step": step["code"], "status": "done",
                                                              "reference": f"{kind}-{step['code']}"}, Role.ADMIN, "ops")
        codes_done = {(k, s["code"]) for k, s in current}
        await tr.wait_view(api, auth, wf, lambda v, done=codes_done: all(
            s["done"] for b in v["branches"] for s in b["steps"] if (b["kind"], s["code"]) in done))
    await env.client.get_workflow_handle(wf).result()
    return wf


async def non_compete(h: Harness) -> str:
    from tests.processes import test_non_compete as nc
    from tests.processes.support import env_today, until
    from workflows.non_compete import month_label, payday_of

    api, auth, env, emp = h.api, h.auth, h.env, h.emp
    first_day = await env_today(env) + dt.timedelta(days=1)
    r = await nc.start(api, auth, emp, first_day, 24)
    if r.status_code != 201:
        raise RuntimeError(r.text)
    wf = r.json()["workflow_id"]
    missed = 5  # one month's proof is missing: HR follows up and files it late
    for month in range(1, 25):
        await until(env, payday_of(first_day, month, nc.PAYDAY))
        await nc.wait_view(api, auth, wf, lambda v, m=month: v["months_paid"] == m)
        if month == missed + 1:
            await h.post(f"/non-competes/{wf}/proof", {"employer": "某科技有限公司", "reference": "late",
                                                       "month": month_label(first_day, missed)}, Role.HR_SPECIALIST, HR)
        if month != missed:
            await h.post(f"/non-competes/{wf}/proof", {"employer": "某科技有限公司", "reference": f"SI record {month}"},
                         Role.EMPLOYEE, emp)
    v = await nc.view(api, auth, wf)
    await until(env, dt.date.fromisoformat(v["last_day"]) + dt.timedelta(days=2))
    await env.client.get_workflow_handle(wf).result()
    return wf


SCENARIOS = {"si_change": si_change, "maternity": maternity, "offboarding": offboarding, "transfer": transfer,
             "non_compete": non_compete}


# ---------------------------------------------------------------- counting
async def runs_and_children(client: Any, workflow_id: str) -> tuple[list[int], dict[str, list[int]]]:
    """Events of every run of ``workflow_id`` (oldest first) and of every child it started."""
    from temporalio.api.enums.v1 import EventType as E

    from bench.bare import histories

    runs, children = [], {}
    for history in await histories(client, workflow_id):
        runs.append(len(history.events))
        for event in history.events:
            if event.event_type == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
                child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
                children[child] = [len(x.events) for x in await histories(client, child)]
    return runs, children


async def run_scenario(stack: Stack, process: str, handover: int) -> dict[str, Any]:
    import httpx
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.testing import WorkflowEnvironment

    from api.app import create_app
    from db.session import make_engine
    from hrflow.codec import data_converter
    from hrflow.temporal import ensure_search_attributes, sealing_sessions
    from integrations.si_agency import FaultPlan, SimulatedAgency
    from tests.processes.support import add_employee
    from worker import build_worker

    emp = f"H{process[:2].upper()}{int(time.time() * 1000) % 10**6:06d}"
    settings = stack.settings(temporal_task_queue=f"{stack.task_queue}-{process}", si_followup_days=1,
                              maternity_deduction_installments=24)
    engine = make_engine(stack.database_url or "", pool_size=10)
    factory = sealing_sessions(settings, engine)
    add_employee(factory, emp, resident_id_number=_next_resident_id())
    faults = FaultPlan()
    codec = stack.codec()
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=binary("temporal-test-server"),
                                                        data_converter=data_converter(codec))
    try:
        await ensure_search_attributes(env.client, "default")
        app = create_app(settings, engine=engine, temporal=env.client, codec=codec)

        def auth(role: Role, user: str = "someone", employee: str | None = None) -> dict[str, str]:
            return stack.token(role, user, employee)

        t0 = time.monotonic()
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hrflow.bench") as api, \
                build_worker(env.client, settings, factory, agency=SimulatedAgency(factory, faults)):
            h = Harness(api=api, auth=auth, env=env, session_factory=factory, emp=emp, faults=faults,
                        settings=settings, handover=handover)
            wf = await SCENARIOS[process](h)
            runs, children = await runs_and_children(env.client, wf)
            from bench.bare import shape_of

            counts = (await shape_of(env.client, wf)).counts
            for child in children:  # a child still running (the non-compete) is ended before the server
                with contextlib.suppress(Exception):
                    d = await env.client.get_workflow_handle(child).describe()
                    if d.status == WorkflowExecutionStatus.RUNNING:
                        await env.client.get_workflow_handle(child).terminate("benchmark finished")
        return {"workflow_id": wf, "runs": runs, "children": children, "seconds": time.monotonic() - t0,
                "counts": {k: counts.get(k, 0) for k in ("activities", "updates", "signals", "timers",
                                                          "workflow_tasks")}}
    finally:
        await env.shutdown()
        engine.dispose()


_RID = [10_000]


def _next_resident_id() -> str:
    from bench.common import resident_id

    _RID[0] += 1
    return resident_id(_RID[0])


def report(results: dict[str, Any], handover: int) -> Table:
    table = Table("history: events per workflow, longest lawful scenario of each process",
                  ["process", "workflow", "activities", "updates", "signals", "timers", "runs", "events per run",
                   "largest run", "target", "verdict", "scenario s"])
    for process, r in results.items():
        if "error" in r:
            table.add(process, "-", "-", "-", "-", "-", "-", "-", "-", "-", "ERROR", "-")
            table.notes.append(f"{process}: {r['error']}")
            continue
        target = NON_COMPETE_RUN_TARGET if process == "non_compete" else TARGET
        largest = max(r["runs"])
        c = r["counts"]
        table.add(process, r["workflow_id"][:40], c["activities"], c["updates"], c["signals"], c["timers"],
                  len(r["runs"]), "+".join(map(str, r["runs"])), largest,
                  f"< {target:,}", verdict(largest < target), r["seconds"])
        for child, runs in r["children"].items():
            child_target = NON_COMPETE_RUN_TARGET if child.startswith("non-compete-") else TARGET
            table.add(f"  child of {process}", child[:40], "", "", "", "", len(runs), "+".join(map(str, runs)),
                      max(runs),
                      f"< {child_target:,}", verdict(max(runs) < child_target), "")
    table.notes.append("activities, updates, signals, timers: of the workflow itself over all its runs")
    table.notes.append(f"offboarding with {handover} handover items (each one sign-off update by its receiver)")
    table.notes.append("a child non-compete is counted as far as it ran when its parent closed (its own 24 months"
                       " are the non_compete row)")
    return table


def main() -> None:
    parser = size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--handover", type=int, help="handover items in the offboarding scenario")
    parser.add_argument("--only", help="comma-separated processes")
    args = parser.parse_args()
    import logging

    logging.getLogger("temporalio").setLevel(logging.ERROR)  # the agency refusal of the scenario is expected
    handover = args.handover or {"tiny": 2, "small": 10, "full": 100}[args.size]
    processes = args.only.split(",") if args.only else (["si_change"] if args.size == "tiny" else list(SCENARIOS))
    facts = machine_facts(benchmark="history", size=args.size, handover_items=handover)
    print_facts(facts)
    t0 = time.monotonic()
    results: dict[str, Any] = {}
    stack = Stack("history")
    try:
        stack.start_postgres()
        for process in processes:
            say(f"{process}: running the longest lawful scenario")
            try:
                results[process] = asyncio.run(run_scenario(stack, process, handover))
                say(f"{process}: runs {results[process]['runs']}, children {results[process]['children']}")
            except Exception as exc:  # noqa: BLE001 - shown in the table, never hidden
                results[process] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
                say(f"{process}: FAILED {results[process]['error']}")
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    finish([report(results, handover)], t0, args.json, {"facts": facts, "results": results})


if __name__ == "__main__":
    main()
