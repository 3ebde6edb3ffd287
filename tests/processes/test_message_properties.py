"""Every message honoured whenever it arrives: random programs of messages against each process.

Hypothesis draws, for each process, a program: messages any of its people may send (allowed or
not at that moment), each after a wait (none, hours, days, months of workflow time), some sent
together with the one before (so they meet while activities run), some a retry of an earlier
request (same X-Request-ID). Every program runs against a fresh employee on the time-skipping
server, through the API, with the worker running. After it, and a long wait, these hold:

- no answer is a 5xx: each message is applied or refused in words (403, 404, 409, 422);
- a refused message writes nothing (no audit row carries its request id), an applied decision
  is on the audit trail, and no request, sent once or retried, has the same effect twice;
- money balances (maternity): what the case says was advanced and settled is what the ledger
  holds, settled never above booked;
- the case ends in a terminal stage or one its process declares as waiting for someone, never
  in a step that should have moved on (``executing``), and the audit chain verifies.

(A message in the very first workflow task, before the case is open, is
tests/processes/test_messages_at_start.py.)
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from api import plausibility
from db.audit import verify_chain
from db.models import AuditEvent, Employee, Receivable
from domain.roles import Role
from tests.faults.harness import resident_id
from tests.processes.support import env_today, eventually
from tests.processes.test_transfer import PDF

HR, MANAGER, FINANCE, IT, COMPLIANCE, RECEIVER = "hr.li", "mgr.wang", "fin.zhao", "it.qian", "cmp.sun", "E0042"
WAITS = {"now": dt.timedelta(0), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
         "4 days": dt.timedelta(days=4), "month": dt.timedelta(days=31), "quarter": dt.timedelta(days=95)}
# Derandomized: CI runs the same programs each time; no shrinking (each example is a whole case).
PROPERTY = settings(max_examples=15, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
_people = itertools.count(7000)


@pytest.fixture(autouse=True)
def _china_clock_after() -> Iterator[None]:
    yield
    plausibility.set_clock(None)


@dataclass(frozen=True)
class Message:
    name: str
    path: str  # under the case, e.g. "/approve"
    role: Role
    user: str
    body: dict[str, Any] | None = None
    audited: bool = True  # an applied one leaves an audit row with its request id


@dataclass
class Run:
    """What a program did: every answer with its request id and message."""

    answers: list[tuple[str, Message, httpx.Response]] = field(default_factory=list)


def program(messages: list[Message]) -> st.SearchStrategy[list[tuple[Message, str, str]]]:
    """Steps of (message, wait before it, how it is sent: alone, together with the previous, a retry)."""
    step = st.tuples(st.sampled_from(messages), st.sampled_from(list(WAITS)),
                     st.sampled_from(["alone", "alone", "together", "retry"]))
    return st.lists(step, min_size=1, max_size=6)


def new_employee(session_factory) -> str:
    n = next(_people)
    emp = f"P{n}"
    with session_factory.begin() as s:
        s.add(Employee(employee_id=emp, resident_id_number=resident_id(n), name="测试员工", department="Sales",
                       position="Adviser", hire_date=dt.date(2021, 3, 1), si_province="Beijing", si_city="Beijing",
                       contribution_base=Decimal("10000.00")))
    return emp


async def play(api, auth, env, base: str, steps: list[tuple[Message, str, str]], emp: str,
               upload: Any = None) -> Run:
    """Send the program's messages (an employee's from her own login); ``upload`` sends her documents."""
    run, pending, sent = Run(), [], []

    async def send(rid: str, m: Message) -> None:
        if m.name == "materials":  # not a message: her documents, all of them
            await upload()
            return
        who = auth(m.role, m.user, employee=m.user if m.role is Role.EMPLOYEE else None)
        r = await api.post(f"{base}{m.path}", json=m.body or {}, headers=who | {"X-Request-ID": rid})
        run.answers.append((rid, m, r))

    for i, (message, wait, how) in enumerate(steps):
        if how != "together" and pending:
            await asyncio.gather(*pending)
            pending = []
        if WAITS[wait] and how != "together":
            await env.sleep(WAITS[wait])
        rid, m = (sent[-1] if how == "retry" and sent else (f"{emp}-{i}", message))
        sent.append((rid, m))
        pending.append(asyncio.ensure_future(send(rid, m)))
    await asyncio.gather(*pending)
    return run


def check(run: Run, session_factory, workflow_id: str) -> None:
    for _rid, m, r in run.answers:
        assert r.status_code in (200, 403, 404, 409, 422), (m.name, r.status_code, r.text)
    with session_factory() as s:
        rows = s.execute(select(AuditEvent.request_id, AuditEvent.action, AuditEvent.after).where(
            AuditEvent.request_id.in_([rid for rid, _, _ in run.answers]))).all()
        assert verify_chain(s).ok
    by_request = collections.defaultdict(list)
    for rid, action, after in rows:  # one decision may close several tasks: one effect per task
        task = after.get("task") if isinstance(after, dict) else None
        by_request[rid].append(f"{action} {task}" if task else action)
    applied = {rid for rid, _, r in run.answers if r.status_code == 200}
    for rid, m, r in run.answers:
        if rid not in applied:  # refused every time it was sent: nothing written
            assert by_request[rid] == [], (m.name, r.text, by_request[rid])
        elif m.audited:
            assert by_request[rid], (m.name, "applied but not on the audit trail")
        counts = collections.Counter(by_request[rid])
        assert all(n == 1 for n in counts.values()), (m.name, counts)  # never twice, retried or not


def as_her(steps: list[tuple[Message, str, str]], emp: str) -> list[tuple[Message, str, str]]:
    """The program with "self" replaced by the employee the case is about."""
    return [(Message(m.name, m.path, m.role, emp if m.user == "self" else m.user, m.body, m.audited), w, h)
            for m, w, h in steps]


async def play_and_check(api, auth, env, session_factory, wf: str, base: str, steps, emp: str, stages: set[str],
                         upload: Any = None) -> None:
    """Play her program against the case, let it settle, and check every property."""
    run = await play(api, auth, env, base, as_her(steps, emp), emp, upload=upload)
    await settle_down(api, auth, env, base, stages, set())
    check(run, session_factory, wf)


async def settle_down(api, auth, env, base: str, stages: set[str], moving: set[str]) -> dict:
    """A long wait, then the case's stage: declared, and not one that should have moved on."""
    await env.sleep(dt.timedelta(days=200))

    async def view() -> dict | None:
        v = (await api.get(base, headers=auth(Role.HR_MANAGER, MANAGER))).json()
        return v if v.get("stage") not in moving else None
    v = await eventually(view, timeout=30, what=f"{base} settled")
    assert v["stage"] in stages, v["stage"]
    return v


# ---------------------------------------------------------------- social-insurance changes
SI_MESSAGES = [
    Message("approve", "/approve", Role.HR_MANAGER, MANAGER),
    Message("reject", "/reject", Role.HR_MANAGER, MANAGER, {"reason": "wrong base"}),
    Message("revoke", "/revoke", Role.HR_MANAGER, MANAGER, {"reason": "approved in error"}),
    Message("withdraw", "/withdraw", Role.HR_SPECIALIST, HR, {"reason": "hire cancelled"}),
    Message("correct", "/correct", Role.HR_SPECIALIST, HR, {"reason": "base corrected", "base": "11000.00"}),
    Message("approve (maker)", "/approve", Role.HR_MANAGER, HR),  # the maker approving: refused
]
SI_STAGES = {"submitted", "approved", "executed", "completed", "rejected", "agency_rejected", "invalid",
             "withdrawn", "revoked", "revocation_manual"}


@PROPERTY
@given(steps=program(SI_MESSAGES))
async def test_si_change_honours_every_message(steps, stack, auth, temporal_env, session_factory) -> None:
    api, emp = stack, new_employee(session_factory)
    r = await api.post("/si-changes", json={"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                                            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "new hire"},
                       headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    base = f"/si-changes/{r.json()['workflow_id']}"
    run = await play(api, auth, temporal_env, base, steps, emp)
    await settle_down(api, auth, temporal_env, base, SI_STAGES, {"executing"})
    check(run, session_factory, r.json()["workflow_id"])


# ---------------------------------------------------------------- maternity leave
def maternity_messages(today: dt.date) -> list[Message]:
    return [
        Message("approve", "/approve", Role.HR_SPECIALIST, HR),
        Message("reject", "/reject", Role.HR_SPECIALIST, HR, {"reason": "certificate missing"}),
        Message("withdraw", "/withdraw", Role.EMPLOYEE, "self", {"reason": "plans changed"}),
        Message("birth", "/birth", Role.EMPLOYEE, "self", {"birth_date": (today + dt.timedelta(days=20)).isoformat()},
                audited=True),
        Message("return report", "/return-report", Role.EMPLOYEE, "self",
                {"date": (today + dt.timedelta(days=150)).isoformat()}, audited=False),
        Message("deduction", "/deductions", Role.FINANCE, FINANCE, {"amount": "1053.00", "reference": "payroll"}),
        Message("departure", "/departure", Role.HR_SPECIALIST, HR,
                {"date": (today + dt.timedelta(days=100)).isoformat()}),
        Message("write-off (finance)", "/write-off", Role.FINANCE, FINANCE, {"reason": "uncollectable"}),
        Message("write-off (manager)", "/write-off", Role.HR_MANAGER, MANAGER, {"reason": "uncollectable"}),
    ]


MATERNITY_STAGES = {"applied", "rejected", "approved", "on_leave", "return_overdue", "deducting", "departed_unsettled",
                    "withdrawn", "cancelled", "closed"}


@PROPERTY
@given(data=st.data())
async def test_maternity_honours_every_message_and_its_money_balances(data, stack, auth, temporal_env,
                                                                       session_factory) -> None:
    api, emp = stack, new_employee(session_factory)
    today = await env_today(temporal_env)
    # 15 programs each run months of leave on one server: the API judges her dates on its clock
    plausibility.set_clock(lambda: today)
    steps = data.draw(program(maternity_messages(today)))
    due = today + dt.timedelta(days=20)
    r = await api.post("/maternity-leaves", json={"employee_id": emp, "expected_delivery_date": due.isoformat(),
                                                  "company_pays_salary": False},
                       headers=auth(Role.EMPLOYEE, emp, employee=emp))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    base = f"/maternity-leaves/{wf}"
    run = await play(api, auth, temporal_env, base, as_her(steps, emp), emp)
    v = await settle_down(api, auth, temporal_env, base, MATERNITY_STAGES, set())
    check(run, session_factory, wf)
    with session_factory() as s:
        booked, settled = s.execute(select(func.coalesce(func.sum(Receivable.amount), 0),
                                           func.coalesce(func.sum(Receivable.settled), 0))
                                    .where(Receivable.workflow_id == wf, Receivable.status != "reversed")).one()
    assert Decimal(booked) == sum((Decimal(a) for a in v["advances_booked"].values()), Decimal("0.00"))
    assert Decimal(settled) == Decimal(v["settled"]) and Decimal(settled) <= Decimal(booked)
    assert Decimal(v["outstanding"]) == Decimal(booked) - Decimal(settled) >= 0


# ---------------------------------------------------------------- offboarding clearance
OFFBOARDING_MESSAGES = [
    Message("handover", "/sign-off", Role.EMPLOYEE, RECEIVER, {"gate": "handover", "item_key": "clients",
                                                              "outcome": "handed_over"}),
    Message("it", "/sign-off", Role.IT, IT, {"gate": "it", "item_key": "accounts", "outcome": "revoked"}),
    Message("hr final", "/sign-off", Role.HR_MANAGER, MANAGER, {"gate": "hr_final", "item_key": "final",
                                                               "outcome": "approved"}),
    Message("withdraw", "/withdraw", Role.EMPLOYEE, "self", {"reason": "I want to stay"}, audited=False),
    Message("accept withdrawal", "/withdrawal-decision", Role.HR_MANAGER, MANAGER, {"accept": True}),
    Message("refuse withdrawal", "/withdrawal-decision", Role.HR_MANAGER, MANAGER, {"accept": False,
                                                                                   "reason": "replacement hired"}),
    Message("filing", "/filings", Role.HR_SPECIALIST, HR, {"filing": "labour_filing", "reference": "LF-1"}),
    Message("own sign-off", "/sign-off", Role.IT, "self", {"gate": "it", "item_key": "accounts", "outcome": "revoked"}),
]
OFFBOARDING_STAGES = {"clearance", "last_day", "departed", "withdrawn", "completed"}


@PROPERTY
@given(steps=program(OFFBOARDING_MESSAGES))
async def test_offboarding_honours_every_message(steps, stack, auth, temporal_env, session_factory) -> None:
    api, emp = stack, new_employee(session_factory)
    notice = await env_today(temporal_env)
    r = await api.post("/offboardings", json={
        "employee_id": emp, "kind": "resignation", "notice_date": notice.isoformat(), "monthly_wage": "10000.00",
        "minimum_wage": "2540.00", "handover": [{"key": "clients", "title": "Client portfolio", "receiver": RECEIVER}]},
        headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    await play_and_check(api, auth, temporal_env, session_factory, wf, f"/offboardings/{wf}", steps, emp, OFFBOARDING_STAGES)


# ---------------------------------------------------------------- cross-province transfers
TRANSFER_MESSAGES = [
    Message("approve", "/review", Role.HR_SPECIALIST, HR, {"approve": True}),
    Message("return", "/review", Role.HR_SPECIALIST, HR, {"approve": False, "reason_code": "material_unclear"}),
    Message("cancel", "/cancel", Role.EMPLOYEE, "self", {"reason": "staying"}),
    Message("progress", "/agency-progress", Role.ADMIN, "ops", {"kind": "pension", "step": "origin_certificate",
                                                               "status": "done", "reference": "C-1"}),
    Message("materials", "/materials", Role.EMPLOYEE, "self", audited=False),  # uploads everything required
]
TRANSFER_STAGES = {"collecting_materials", "awaiting_review", "in_progress", "completed", "partly_rejected",
                   "abandoned", "cancelled"}


@PROPERTY
@given(steps=program(TRANSFER_MESSAGES))
async def test_transfer_honours_every_message(steps, stack, auth, temporal_env, session_factory) -> None:
    api, emp = stack, new_employee(session_factory)
    r = await api.post("/transfers", json={"employee_id": emp, "origin_city": "贵阳", "destination_city": "哈尔滨",
                                           "types": ["pension"], "reason": "relocated"},
                       headers=auth(Role.EMPLOYEE, emp, employee=emp))
    assert r.status_code == 201, r.text
    wf, required = r.json()["workflow_id"], sorted({c for cs in r.json()["required_materials"].values() for c in cs})

    async def upload() -> None:
        for code in required:
            up = await api.post(f"/transfers/{wf}/materials/{code}", files={"file": (f"{code}.pdf", PDF, "application/pdf")},
                                headers=auth(Role.EMPLOYEE, emp, employee=emp))
            assert up.status_code in (201, 409), up.text  # 409: the transfer has closed

    await play_and_check(api, auth, temporal_env, session_factory, wf, f"/transfers/{wf}", steps, emp, TRANSFER_STAGES, upload=upload)


# ---------------------------------------------------------------- non-compete follow-up
NON_COMPETE_MESSAGES = [
    Message("proof", "/proof", Role.EMPLOYEE, "self", {"employer": "某科技有限公司", "reference": "SB-001"}, audited=True),
    Message("violation", "/violation", Role.COMPLIANCE, COMPLIANCE, {"evidence": "joined a competitor"}),
    Message("release", "/release", Role.HR_MANAGER, MANAGER, {"reason": "no longer needed"}),
    Message("claim", "/release-claim", Role.EMPLOYEE, "self"),
    Message("violation (HR)", "/violation", Role.HR_SPECIALIST, HR, {"evidence": "hearsay"}),
]
NON_COMPETE_STAGES = {"active", "violated", "released", "completed"}


@PROPERTY
@given(steps=program(NON_COMPETE_MESSAGES))
async def test_non_compete_honours_every_message(steps, stack, auth, temporal_env, session_factory) -> None:
    api, emp = stack, new_employee(session_factory)
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    r = await api.post("/non-competes", json={"employee_id": emp, "start": first_day.isoformat(), "months": 3,
                                              "monthly_compensation": "4500.00", "payday": 10},
                       headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    await play_and_check(api, auth, temporal_env, session_factory, wf, f"/non-competes/{wf}", steps, emp, NON_COMPETE_STAGES)
