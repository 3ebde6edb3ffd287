"""The non-compete follow-up through the API, on the time-skipping server and real PostgreSQL.

Paydays are durable timers months apart: a release stops payments and pays the extra months
once, a violation stops payments for good, a month without proof becomes HR's follow-up while
payments go on, and a long term continues as new so no run's history grows large.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from db.audit import verify_chain
from db.models import ApprovalTask, AuditEvent, Case, CaseDeadline, NonCompetePayment, Notification
from domain.policy.deadlines import non_compete_rule
from domain.roles import Role
from tests.processes import support
from tests.processes.support import HISTORIES, env_today, until
from workflows.non_compete import NonCompeteRequest, NonCompeteWorkflow, month_label, payday_of

HR, MANAGER, COMPLIANCE = "hr.li", "mgr.wang", "cmp.sun"
MONTHLY = Decimal("4500.00")
PAYDAY = 10


ROUTES = support.CaseRoutes("/non-competes", Role.HR_SPECIALIST, HR)
view, wait_view, post = ROUTES.view, ROUTES.wait_view, ROUTES.post


async def start(api, auth, emp: str, first_day: dt.date, months: int, **extra) -> httpx.Response:
    body = {"employee_id": emp, "start": first_day.isoformat(), "months": months,
            "monthly_compensation": str(MONTHLY), "payday": PAYDAY} | extra
    return await api.post("/non-competes", json=body, headers=auth(Role.HR_SPECIALIST, HR))


def payments(session_factory, wf: str, kind: str = "monthly") -> list[NonCompetePayment]:
    with session_factory() as s:
        return list(s.scalars(select(NonCompetePayment).where(NonCompetePayment.agreement_id == wf,
                                                              NonCompetePayment.kind == kind)
                              .order_by(NonCompetePayment.month)))


async def runs_of(client, wf: str) -> list[tuple[str, int]]:
    """(run id, history length) of every run, newest first, following continue-as-new back."""
    run_id: str | None = (await client.get_workflow_handle(wf).describe()).run_id
    found = []
    while run_id:
        history = await client.get_workflow_handle(wf, run_id=run_id).fetch_history()
        found.append((run_id, len(history.events)))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return found


async def record_run(client, wf: str, run_id: str, scenario: str) -> None:
    """With HRFLOW_RECORD_HISTORIES=1, keep one run's history for the replay tests."""
    if not os.environ.get("HRFLOW_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(wf, run_id=run_id).fetch_history()
    target = HISTORIES / "non_compete" / f"{scenario}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(history.to_json())


async def test_released_in_month_10_pays_ten_months_and_the_release_once(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api, client = stack, temporal_env.client
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    r = await start(api, auth, emp, first_day, 24)
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    assert wf == f"non-compete-{emp}-{first_day}"
    first_run = (await client.get_workflow_handle(wf).describe()).run_id

    await until(temporal_env, payday_of(first_day, 10, PAYDAY))
    v = await wait_view(api, auth, wf, lambda v: v["months_paid"] == 10)
    assert Decimal(v["total_paid"]) == MONTHLY * 10 and v["run"] == 2  # continued as new after month 6
    assert v["next_payday"] == payday_of(first_day, 11, PAYDAY).isoformat()

    r = await post(api, auth, wf, "release", Role.HR_SPECIALIST, HR)
    assert r.status_code == 403
    r = await post(api, auth, wf, "release", Role.HR_MANAGER, MANAGER, {"reason": "the project was cancelled"})
    assert r.status_code == 200, r.text
    released = r.json()
    assert released["stage"] == "released" and released["next_payday"] is None
    claim_until = dt.date.fromisoformat(released["release_claim_until"])
    assert claim_until - dt.date.fromisoformat(released["released_on"]) == dt.timedelta(days=30)

    await until(temporal_env, dt.date.fromisoformat(released["released_on"]) + dt.timedelta(days=3))
    r = await post(api, auth, wf, "release-claim", Role.HR_MANAGER, MANAGER)
    assert r.status_code == 403  # only she claims
    r = await post(api, auth, wf, "release-claim", Role.EMPLOYEE, "E99999999")
    assert r.status_code == 404  # someone else's case is not visible
    r = await post(api, auth, wf, "release-claim", Role.EMPLOYEE, emp)
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["release_compensation"]) == MONTHLY * 3
    await client.get_workflow_handle(wf).result()  # the case closes after the claim
    r = await post(api, auth, wf, "release-claim", Role.EMPLOYEE, emp)
    assert r.status_code == 409 and r.json()["error"] == "case_closed"

    await until(temporal_env, payday_of(first_day, 12, PAYDAY) + dt.timedelta(days=1))
    monthly = payments(session_factory, wf)
    assert [p.month for p in monthly] == [month_label(first_day, m) for m in range(1, 11)]
    assert {p.amount for p in monthly} == {MONTHLY}
    extra = payments(session_factory, wf, "release_extra")
    assert [(p.amount, p.month) for p in extra] == [(MONTHLY * 3, released["released_on"][:7])]
    mine = await api.get(f"/non-competes/{wf}", headers=auth(Role.EMPLOYEE, emp))
    assert mine.status_code == 200 and mine.json()["stage"] == "released" and mine.json()["closed"]
    other = await api.get(f"/non-competes/{wf}", headers=auth(Role.EMPLOYEE, "E99999999"))
    assert other.status_code == 404
    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == wf))
        assert (case.stage, case.status) == ("released", "completed")
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == wf)))
        assert actions.count("non_compete.paid") == 10
        assert actions.count("non_compete.release_compensation_paid") == 1
        assert s.scalar(select(func.count()).select_from(Notification).where(
            Notification.workflow_id == wf, Notification.template == "non_compete.proof_reminder",
            Notification.recipient_kind == "employee", Notification.recipient == emp)) == 10
        assert verify_chain(s).ok

    runs = await runs_of(client, wf)
    assert len(runs) == 2 and runs[-1][0] == first_run and runs[0][0] != first_run
    assert all(length < 300 for _, length in runs), runs
    await record_run(client, wf, runs[-1][0], "first_run_continued_as_new")
    await record_run(client, wf, runs[0][0], "released_month_10")


async def test_violation_in_month_3_stops_payments(stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    wf = (await start(api, auth, emp, first_day, 12)).json()["workflow_id"]
    await until(temporal_env, payday_of(first_day, 3, PAYDAY))
    await wait_view(api, auth, wf, lambda v: v["months_paid"] == 3)

    evidence = {"evidence": "LinkedIn and a client report: working for a competitor since last month"}
    r = await post(api, auth, wf, "violation", Role.HR_SPECIALIST, HR, evidence)
    assert r.status_code == 403
    r = await post(api, auth, wf, "violation", Role.COMPLIANCE, COMPLIANCE, evidence)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "violated" and r.json()["closed"]
    r = await post(api, auth, wf, "release", Role.HR_MANAGER, MANAGER)
    assert r.status_code == 409  # nothing left to release

    await until(temporal_env, payday_of(first_day, 5, PAYDAY) + dt.timedelta(days=1))
    assert [p.month for p in payments(session_factory, wf)] == [month_label(first_day, m) for m in (1, 2, 3)]
    r = await start(api, auth, emp, first_day, 12)
    assert r.status_code == 409  # a closed agreement is not started again
    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == wf))
        assert (case.stage, case.status) == ("violated", "completed")
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf, ApprovalTask.role == "compliance"))
        assert task.status == "open" and "recover compensation and agreed penalty" in task.title
        changed = s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                    AuditEvent.action == "non_compete.stage_changed"))
        assert changed.actor == COMPLIANCE and changed.after["evidence"] == evidence["evidence"]
    await record_run(temporal_env.client, wf, (await temporal_env.client.get_workflow_handle(wf).describe()).run_id,
                     "violation_month_3")


async def test_missing_proof_opens_a_follow_up_and_payments_go_on(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    wf = (await start(api, auth, emp, first_day, 3)).json()["workflow_id"]
    m1, m2, m3 = (month_label(first_day, m) for m in (1, 2, 3))

    await until(temporal_env, payday_of(first_day, 1, PAYDAY))
    await wait_view(api, auth, wf, lambda v: v["months_paid"] == 1)
    with session_factory() as s:
        reminder = s.scalar(select(Notification).where(Notification.workflow_id == wf))
    assert (reminder.recipient_kind, reminder.recipient, reminder.template) == ("employee", emp, "non_compete.proof_reminder")
    assert reminder.params["month"] == m1

    proof = {"employer": "杭州某科技有限公司", "reference": "social insurance record 2026-06"}
    r = await post(api, auth, wf, "proof", Role.FINANCE, "fin.zhao", proof)
    assert r.status_code == 403
    r = await post(api, auth, wf, "proof", Role.EMPLOYEE, "E99999999", proof)
    assert r.status_code == 404
    r = await post(api, auth, wf, "proof", Role.EMPLOYEE, emp, proof)
    assert r.status_code == 200, r.text
    assert r.json()["proofs"][m1]["employer"] == proof["employer"]
    assert _proof_deadlines(session_factory, wf) == {m1: "met"}

    await until(temporal_env, payday_of(first_day, 2, PAYDAY))
    await wait_view(api, auth, wf, lambda v: v["months_paid"] == 2)
    await until(temporal_env, payday_of(first_day, 3, PAYDAY))
    v = await wait_view(api, auth, wf, lambda v: v["months_paid"] == 3)  # no proof for m2: still paid
    assert v["missing_proofs"] == [m2]
    with session_factory() as s:
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf))
        assert task.role == "hr_specialist" and task.status == "open" and m2 in task.title
        missing = s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                    AuditEvent.action == "non_compete.proof_missing"))
        assert missing.after["month"] == m2

    r = await post(api, auth, wf, "proof", Role.HR_SPECIALIST, HR, proof | {"month": m2})
    assert r.status_code == 200, r.text
    with session_factory() as s:
        assert s.scalar(select(ApprovalTask.decision).where(ApprovalTask.workflow_id == wf)) == "done"

    last_day = dt.date.fromisoformat(v["last_day"])
    await until(temporal_env, last_day + dt.timedelta(days=2))
    v = await wait_view(api, auth, wf, lambda v: v["stage"] == "completed")
    assert v["months_paid"] == 3 and Decimal(v["total_paid"]) == MONTHLY * 3
    assert v["missing_proofs"] == [m2, m3]  # m3 recorded at the term's end, no task after the term
    with session_factory() as s:
        assert s.scalar(select(Case.status).where(Case.workflow_id == wf)) == "completed"
        assert s.scalar(select(func.count()).select_from(ApprovalTask)
                        .where(ApprovalTask.workflow_id == wf, ApprovalTask.status == "open")) == 0
        late = s.scalar(select(AuditEvent).where(AuditEvent.workflow_id == wf,
                                                 AuditEvent.action == "non_compete.proof_received",
                                                 AuditEvent.actor == HR))
        assert late.after["late"] is True
    # m2 was proven late (met); m3 was still open when the term ended, and the closed case owes nothing more
    assert _proof_deadlines(session_factory, wf) == {m1: "met", m2: "met", m3: "cancelled"}
    await record_run(temporal_env.client, wf, (await temporal_env.client.get_workflow_handle(wf).describe()).run_id,
                     "missing_proof_follow_up")


async def test_longer_than_24_months_is_refused(stack, auth, emp, temporal_env, session_factory, settings) -> None:
    api = stack
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    r = await start(api, auth, emp, first_day, 25)
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "non_compete_max_months"
    r = await start(api, auth, emp, first_day, 12, monthly_compensation="-1.00")
    assert r.status_code == 422
    r = await api.post("/non-competes", headers=auth(Role.EMPLOYEE, emp),
                       json={"employee_id": emp, "start": first_day.isoformat(), "months": 12,
                             "monthly_compensation": "1.00"})
    assert r.status_code == 403

    # Started by a caller that skipped the check (e.g. a parent workflow): the workflow refuses.
    req = NonCompeteRequest(employee_id=emp, start=first_day, months=25, monthly_compensation=MONTHLY,
                            rule=non_compete_rule(first_day))
    handle = await temporal_env.client.start_workflow(
        NonCompeteWorkflow.run, req, id=f"non-compete-{emp}-{first_day}",
        task_queue=settings.temporal_task_queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, ApplicationError) and failed.value.cause.type == "ValidationFailed"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.employee_id == emp)) == 0


async def test_agreement_predating_hrflow_catches_up_without_reminders(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    today = await env_today(temporal_env)
    first_day = today - dt.timedelta(days=100)
    r = await start(api, auth, emp, first_day, 6, months_already_paid=1)
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    owed = [m for m in range(2, 7) if payday_of(first_day, m, PAYDAY) < today]  # paydays already passed
    v = await wait_view(api, auth, wf, lambda v: v["months_paid"] == 1 + len(owed))
    assert [p.month for p in payments(session_factory, wf)] == [month_label(first_day, m) for m in owed]
    assert v["next_payday"] == payday_of(first_day, 2 + len(owed), PAYDAY).isoformat()
    await until(temporal_env, payday_of(first_day, 2 + len(owed), PAYDAY))
    v = await wait_view(api, auth, wf, lambda v: v["months_paid"] == 2 + len(owed))
    assert v["missing_proofs"] == []  # caught-up months were never reminded, so no proof was due
    with session_factory() as s:
        reminders = list(s.scalars(select(Notification.params).where(Notification.workflow_id == wf)))
    assert [p["month"] for p in reminders] == [month_label(first_day, 2 + len(owed))]


def _proof_deadlines(session_factory, wf: str) -> dict[str, str]:
    with session_factory() as s:
        rows = s.scalars(select(CaseDeadline).where(CaseDeadline.workflow_id == wf)).all()
    return {d.ref: d.status for d in rows}
