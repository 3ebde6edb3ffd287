"""A message sent in a case's first moment is honoured: never applied to a case not yet open, never lost.

Each case is started through the API while no worker runs, and a message is sent to it at once;
only then does the worker start. Its first workflow task holds the start and the message together
(the history shows both updates accepted before any activity ran): the SDK hands the workflow its
messages before its main method starts. Seed 003's process showed what went wrong there: an
approval answered 200, then the start-up recorded "submitted" over it and the change waited for an
approval it already had.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.client import Client

from db.models import ApprovalTask, AuditEvent, Case, SiChange
from domain.roles import Role
from tests.processes.support import add_employee, env_today, eventually, record_history
from worker import build_worker

HR, MANAGER, IT, COMPLIANCE = "hr.li", "mgr.wang", "it.qian", "cmp.sun"


@asynccontextmanager
async def first_moment(client: Client, start: Awaitable[httpx.Response], workflow_id: str,
                       message: Callable[[], Awaitable[httpx.Response]], run_worker: Callable[[], Any]
                       ) -> AsyncIterator[tuple[httpx.Response, httpx.Response]]:
    """Start the case and send ``message`` before any worker has seen it; then run the worker (for
    as long as the ``async with`` block lasts) and give both answers."""
    started = asyncio.ensure_future(start)

    async def exists() -> bool:
        if started.done():  # refused before it started anything
            raise AssertionError(f"the start was answered before the worker ran: {started.result().text}")
        try:
            await client.get_workflow_handle(workflow_id).describe()
            return True
        except Exception:  # noqa: BLE001 - not there yet
            return False
    await eventually(exists, what=f"{workflow_id} started")
    sent = asyncio.ensure_future(message())
    await asyncio.sleep(0.5)  # the message reaches the server and waits with the start
    async with run_worker():
        answers = await started, await sent
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        # the workflow's first step: an activity, or a marker (a local activity, or the patch before one)
        first_activity = next(e.event_id for e in history.events
                              if e.HasField("activity_task_scheduled_event_attributes")
                              or e.HasField("marker_recorded_event_attributes"))
        accepted = [e.event_id for e in history.events
                    if e.HasField("workflow_execution_update_accepted_event_attributes")]
        assert len([a for a in accepted if a < first_activity]) == 2, "the message did not arrive with the start"
        yield answers


def _enrollment(api, auth, session_factory, emp: str):
    """Her enrollment change, about to be submitted: its workflow id and the submission."""
    add_employee(session_factory, emp)
    body = {"employee_id": emp, "kind": "enrollment", "base": "10000.00",
            "effective_month": f"{dt.date.today():%Y-%m}", "reason": "new hire"}
    return f"si-change-{emp}-1", api.post("/si-changes", json=body,
                                          headers=auth(Role.HR_SPECIALIST, HR) | {"X-Request-ID": f"s-{emp}"})


def _open_tasks(session_factory, workflow_id: str) -> list[str]:
    with session_factory() as s:
        return list(s.scalars(select(ApprovalTask.task_key).where(
            ApprovalTask.workflow_id == workflow_id, ApprovalTask.status == "open")))


async def test_an_approval_sent_as_the_change_starts_is_applied_and_the_window_runs(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    wf, submit = _enrollment(api, auth, session_factory, emp)
    async with first_moment(
        temporal_env.client, submit, wf, lambda: api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, MANAGER)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, approved):
        assert created.status_code == 201 and created.json()["stage"] == "submitted", created.text
        assert approved.status_code == 200 and approved.json()["stage"] == "approved", approved.text
        with session_factory() as s:
            assert s.scalar(select(SiChange.stage).where(SiChange.workflow_id == wf)) == "approved"
            stages = list(s.scalars(select(AuditEvent.after["stage"].astext).where(
                AuditEvent.workflow_id == wf, AuditEvent.action == "si_change.stage_changed").order_by(AuditEvent.id)))
        assert stages == ["submitted", "approved"]  # opened first, then the approval: never the other way round
        assert _open_tasks(session_factory, wf) == []

        # The rollback window started with the approval: after it, the change reaches the agency.
        await temporal_env.sleep(dt.timedelta(hours=73))

        def executed() -> bool:
            with session_factory() as s:
                return s.scalar(select(SiChange.stage).where(SiChange.workflow_id == wf)) in ("executed", "completed")
        await eventually(executed, what="the change executed after its rollback window")
        await record_history(temporal_env.client, wf, "si_change", "approved_in_the_first_moment")


async def test_a_refusal_sent_as_the_change_starts_is_still_a_refusal(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    """Validators cannot wait for the start-up; the handler applies their rule once the case is open."""
    wf, submit = _enrollment(api, auth, session_factory, emp)
    async with first_moment(
        temporal_env.client, submit, wf, lambda: api.post(f"/si-changes/{wf}/revoke", json={"reason": "nothing approved yet"},
                             headers=auth(Role.HR_MANAGER, MANAGER)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, refused):
        assert created.status_code == 201
        assert refused.status_code == 409 and refused.json()["error"] == "wrong_stage", refused.text
        with session_factory() as s:
            assert s.scalar(select(SiChange.stage).where(SiChange.workflow_id == wf)) == "submitted"
        assert len(_open_tasks(session_factory, wf)) == 1  # the approval still waits for its checker


async def test_a_leave_approved_as_it_is_filed_is_approved_with_no_task_left_open(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    add_employee(session_factory, emp)
    due = await env_today(temporal_env) + dt.timedelta(days=60)
    wf = f"maternity-leave-{emp}-{due.isoformat()}"
    body = {"employee_id": emp, "expected_delivery_date": due.isoformat(), "company_pays_salary": False}
    async with first_moment(
        temporal_env.client, api.post("/maternity-leaves", json=body, headers=auth(Role.EMPLOYEE, emp, employee=emp)),
        wf, lambda: api.post(f"/maternity-leaves/{wf}/approve", headers=auth(Role.HR_SPECIALIST, HR)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, approved):
        assert created.status_code == 201 and created.json()["stage"] == "applied", created.text
        assert approved.status_code == 200 and approved.json()["stage"] == "approved", approved.text
        with session_factory() as s:
            assert s.scalar(select(Case.stage).where(Case.workflow_id == wf)) == "approved"
        assert _open_tasks(session_factory, wf) == []
        await record_history(temporal_env.client, wf, "maternity", "approved_in_the_first_moment")


async def test_a_sign_off_sent_as_the_offboarding_starts_finds_its_item(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    add_employee(session_factory, emp)
    notice = await env_today(temporal_env)
    wf = f"offboarding-{emp}-{notice.isoformat()}"
    body = {"employee_id": emp, "kind": "resignation", "notice_date": notice.isoformat(),
            "monthly_wage": "10000.00", "minimum_wage": "2540.00",
            "handover": [{"key": "clients", "title": "Client portfolio", "receiver": "E0042"}]}
    async with first_moment(
        temporal_env.client, api.post("/offboardings", json=body, headers=auth(Role.HR_SPECIALIST, HR)),
        wf, lambda: api.post(f"/offboardings/{wf}/sign-off", json={"gate": "it", "item_key": "accounts",
                                                                   "outcome": "revoked"}, headers=auth(Role.IT, IT)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, signed):
        assert created.status_code == 201, created.text
        # The 201 shows the gates as the start-up set them up, not an empty case.
        assert {i["gate"] for i in created.json()["items"]} >= {"it", "hr_final"}
        assert signed.status_code == 200, signed.text
        accounts = next(i for i in signed.json()["items"] if (i["gate"], i["key"]) == ("it", "accounts"))
        assert accounts["status"] == "done" and accounts["signed_by"] == IT
        await record_history(temporal_env.client, wf, "offboarding", "signed_off_in_the_first_moment")


async def test_a_transfer_cancelled_as_it_is_applied_for_is_cancelled(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    add_employee(session_factory, emp)
    body = {"employee_id": emp, "origin_city": "贵阳", "destination_city": "哈尔滨", "types": ["pension"],
            "reason": "relocated"}
    wf = f"transfer-{emp}-1"
    async with first_moment(
        temporal_env.client,
        api.post("/transfers", json=body, headers=auth(Role.EMPLOYEE, emp, employee=emp) | {"X-Request-ID": f"t-{emp}"}),
        wf, lambda: api.post(f"/transfers/{wf}/cancel", json={"reason": "staying after all"},
                             headers=auth(Role.HR_SPECIALIST, HR)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, cancelled):
        assert created.status_code == 201, created.text
        assert cancelled.status_code == 200 and cancelled.json()["stage"] == "cancelled", cancelled.text
        with session_factory() as s:
            assert s.scalar(select(Case.stage).where(Case.workflow_id == wf)) == "cancelled"
        await record_history(temporal_env.client, wf, "transfer", "cancelled_in_the_first_moment")


async def test_a_violation_reported_as_the_non_compete_starts_stops_it(
        api, auth, temporal_env, settings, session_factory, agency, emp) -> None:
    add_employee(session_factory, emp)
    first_day = await env_today(temporal_env) + dt.timedelta(days=1)
    wf = f"non-compete-{emp}-{first_day.isoformat()}"
    body = {"employee_id": emp, "start": first_day.isoformat(), "months": 12, "monthly_compensation": "4500.00",
            "payday": 10}
    async with first_moment(
        temporal_env.client, api.post("/non-competes", json=body, headers=auth(Role.HR_SPECIALIST, HR)),
        wf, lambda: api.post(f"/non-competes/{wf}/violation", json={"evidence": "joined a competitor"},
                             headers=auth(Role.COMPLIANCE, COMPLIANCE)),
        lambda: build_worker(temporal_env.client, settings, session_factory, agency=agency)) as (created, reported):
        assert created.status_code == 201 and created.json()["stage"] == "active", created.text
        assert reported.status_code == 200 and reported.json()["stage"] == "violated", reported.text
        await record_history(temporal_env.client, wf, "non_compete", "violation_in_the_first_moment")


async def test_a_case_is_readable_as_soon_as_its_201_arrives(api, auth, temporal_env, settings, session_factory,
                                                            agency, emp) -> None:
    """Read your writes: the case page, the case list and the process's own page all find it."""
    add_employee(session_factory, emp)
    async with build_worker(temporal_env.client, settings, session_factory, agency=agency):
        body = {"employee_id": emp, "kind": "enrollment", "base": "10000.00",
                "effective_month": f"{dt.date.today():%Y-%m}", "reason": "new hire"}
        r = await api.post("/si-changes", json=body, headers=auth(Role.HR_SPECIALIST, HR))
        assert r.status_code == 201, r.text
        wf = r.json()["workflow_id"]
        page, listing, inbox = await asyncio.gather(
            api.get(f"/cases/{wf}", headers=auth(Role.HR_MANAGER, MANAGER)),
            api.get("/si-changes", params={"employee_id": emp}, headers=auth(Role.HR_MANAGER, MANAGER)),
            api.get("/inbox", headers=auth(Role.HR_MANAGER, MANAGER)))
    assert page.status_code == 200 and page.json()["stage"] == "submitted", page.text
    assert [c["workflow_id"] for c in listing.json()["items"]] == [wf]
    assert wf in [t["workflow_id"] for t in inbox.json()["items"]]
