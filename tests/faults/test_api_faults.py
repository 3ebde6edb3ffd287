"""The approval API under retries, races and a missing Temporal.

- The same approval sent twice with one ``X-Request-ID`` is applied once (the request id is the
  Temporal update id); every answer is the first one's, even after the case has closed, while a
  new approval of a closed case is 409 ``case_closed``.
- Two managers approving the same task at once: one wins, the other gets 409 and writes nothing.
- Temporal unreachable: 503 with ``Retry-After`` and the JSON error shape, never a 500.
  (An API started while Temporal is down stops with one line: tests/platform/test_dev_stack.py
  ``test_wrong_temporal_address_is_one_line``.)
- A submit sent again with its ``X-Request-ID`` reaches the case it opened, even once that case is
  open (its own case is no clash); the id reused for another employee is 409.
"""

from __future__ import annotations

import asyncio
import collections
import time

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.errors import TEMPORAL_UNAVAILABLE
from db.models import ApprovalTask, AuditEvent
from domain.roles import Role
from hrflow.temporal import connect
from tests.faults import cases
from tests.faults.harness import WorkerProcess, add_employees
from tests.processes.support import eventually, temporal_binary
from worker import build_worker
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

pytestmark = pytest.mark.faults


@pytest.fixture
def settings(settings):
    """Approved changes wait an hour: the case stays open while the messages race."""
    return settings.model_copy(update={"rollback_window_hours": 1})


async def submitted(api, auth, session_factory, employees: list[str]) -> list[str]:
    workflow_ids = await cases.submit_all(api, auth, employees)

    def all_open() -> bool:
        with session_factory() as s:
            return s.scalar(select(func.count()).select_from(ApprovalTask).where(
                ApprovalTask.workflow_id.in_(workflow_ids), ApprovalTask.status == "open")) == len(workflow_ids)
    await eventually(all_open, timeout=60, what="every case waiting for approval")
    return workflow_ids


def audit_actions(session_factory, workflow_id: str) -> collections.Counter[str]:
    with session_factory() as s:
        return collections.Counter(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == workflow_id)))


async def test_same_approval_twice_with_one_request_id_is_applied_once(
        api, auth, session_factory, worker: WorkerProcess, temporal: Client) -> None:
    [employee] = cases.employee_ids(1, "D")
    add_employees(session_factory, [employee])
    [wf] = await submitted(api, auth, session_factory, [employee])
    headers = auth(Role.HR_MANAGER, cases.CHECKER) | {"X-Request-ID": "approve-once-7f3a"}

    # A client that retried before the first answer came back, and one that retried after it.
    first, second = await asyncio.gather(api.post(f"/si-changes/{wf}/approve", json={}, headers=headers),
                                         api.post(f"/si-changes/{wf}/approve", json={}, headers=headers))
    third = await api.post(f"/si-changes/{wf}/approve", json={}, headers=headers)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200], [first.text, second.text, third.text]
    assert first.json() == second.json() == third.json()
    assert first.json()["stage"] == "approved" and first.json()["approver"] == cases.CHECKER

    actions = audit_actions(session_factory, wf)
    assert actions["task.approved"] == 1
    assert actions["si_change.stage_changed"] == 2  # submitted, approved: once each
    with session_factory() as s:
        approved = list(s.scalars(select(AuditEvent.request_id).where(AuditEvent.workflow_id == wf,
                                                                       AuditEvent.action == "task.approved")))
    assert approved == ["approve-once-7f3a"]
    # Once the case has closed (withdrawn here), the retry still gets the first answer; a new
    # approval gets 409 case_closed.
    r = await api.post(f"/si-changes/{wf}/withdraw", json={"reason": "hire cancelled"},
                       headers=auth(Role.HR_SPECIALIST, cases.MAKER))
    assert r.status_code == 200 and r.json()["stage"] == "withdrawn", r.text
    await temporal.get_workflow_handle(wf).result()
    late = await api.post(f"/si-changes/{wf}/approve", json={}, headers=headers)
    assert late.status_code == 200 and late.json() == first.json(), late.text
    other = await api.post(f"/si-changes/{wf}/approve", json={},
                           headers=auth(Role.HR_MANAGER, cases.CHECKER) | {"X-Request-ID": "approve-after-close"})
    assert other.status_code == 409 and other.json()["error"] == "case_closed", other.text

    history = await temporal.get_workflow_handle(wf).fetch_history()
    accepted = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert accepted == ["opened", "approve", "withdraw"]  # the start's answer, the approval once, the withdrawal
    assert audit_actions(session_factory, wf)["task.approved"] == 1


async def test_submit_retried_with_same_request_id_reaches_the_same_case(
        api, auth, session_factory, worker: WorkerProcess, temporal: Client) -> None:
    employee, other = cases.employee_ids(2, "S")
    add_employees(session_factory, [employee, other])
    [wf] = await submitted(api, auth, session_factory, [employee])  # sent with X-Request-ID submit-<employee>
    again = await api.post("/si-changes", json=cases.change_body(employee),
                           headers=auth(Role.HR_SPECIALIST, cases.MAKER) | {"X-Request-ID": f"submit-{employee}"})
    assert again.status_code == 201, again.text
    assert again.json()["workflow_id"] == wf
    reused = await api.post("/si-changes", json=cases.change_body(other),
                            headers=auth(Role.HR_SPECIALIST, cases.MAKER) | {"X-Request-ID": f"submit-{employee}"})
    assert reused.status_code == 409 and reused.json()["error"] == "request_id_reused"

    # Sent again once the case has run to its end (a client that got a 503 and retried late): it
    # reaches the closed case; a second run would have been refused as a second enrollment.
    r = await api.post(f"/si-changes/{wf}/withdraw", json={"reason": "hire cancelled"},
                       headers=auth(Role.HR_SPECIALIST, cases.MAKER))
    assert r.status_code == 200, r.text
    await temporal.get_workflow_handle(wf).result()
    late = await api.post("/si-changes", json=cases.change_body(employee),
                          headers=auth(Role.HR_SPECIALIST, cases.MAKER) | {"X-Request-ID": f"submit-{employee}"})
    assert late.status_code == 201 and late.json()["workflow_id"] == wf and late.json()["stage"] == "withdrawn", late.text
    runs = [w async for w in temporal.list_workflows(f"WorkflowId = '{wf}'")]
    assert len(runs) == 1


async def test_two_managers_approving_at_once_one_wins_the_other_gets_409(
        api, auth, session_factory, worker: WorkerProcess) -> None:
    employees = cases.employee_ids(6, "R")
    add_employees(session_factory, employees)
    workflow_ids = await submitted(api, auth, session_factory, employees)
    managers = ("mgr.wang", "mgr.zhao")

    async def race(wf: str) -> dict[str, httpx.Response]:
        answers = await asyncio.gather(*(
            api.post(f"/si-changes/{wf}/approve", json={},
                     headers=auth(Role.HR_MANAGER, m) | {"X-Request-ID": f"{m}-{wf}"}) for m in managers))
        return dict(zip(managers, answers, strict=True))

    for wf, answers in zip(workflow_ids, await asyncio.gather(*(race(w) for w in workflow_ids)), strict=True):
        codes = sorted(r.status_code for r in answers.values())
        assert codes == [200, 409], {m: (r.status_code, r.text) for m, r in answers.items()}
        [winner] = [m for m, r in answers.items() if r.status_code == 200]
        [loser] = [r for r in answers.values() if r.status_code == 409]
        assert loser.json()["error"] == "wrong_stage" and loser.json()["detail"]["stage"] == "approved"
        assert answers[winner].json()["approver"] == winner
        with session_factory() as s:
            task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf))
            assert (task.status, task.decision, task.actor) == ("decided", "approved", winner)
            approvals = list(s.scalars(select(AuditEvent.actor).where(AuditEvent.workflow_id == wf,
                                                                     AuditEvent.action == "task.approved")))
        assert approvals == [winner]
        assert audit_actions(session_factory, wf)["si_change.stage_changed"] == 2


async def test_temporal_unreachable_is_503_json_never_500(
        settings, engine, person_codec, session_factory, auth, tmp_path) -> None:
    """The API's own client (``hrflow.temporal.connect``), then its Temporal server goes away."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary("temporal"),
                                                search_attributes=SEARCH_ATTRIBUTES)
    own = settings.model_copy(update={"temporal_address": env.client.service_client.config.target_host})
    try:
        client = await connect(own)
        app = create_app(own, engine=engine, temporal=client, codec=person_codec)
        employees = cases.employee_ids(2, "U")
        add_employees(session_factory, employees)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test", timeout=60) as api:
            async with build_worker(client, own, session_factory):  # a start answers once the case is open
                [wf] = await cases.submit_all(api, auth, employees[:1])
            await env.shutdown()
            env = None
            began = time.monotonic()
            manager = auth(Role.HR_MANAGER, cases.CHECKER)
            answers = await asyncio.gather(
                api.post("/si-changes", json=cases.change_body(employees[1]),
                         headers=auth(Role.HR_SPECIALIST, cases.MAKER) | {"X-Request-ID": "submit-while-down"}),
                api.get(f"/si-changes/{wf}", headers=manager),
                api.post(f"/si-changes/{wf}/approve", json={}, headers=manager),
                api.post(f"/si-changes/{wf}/reject", json={"reason": "wrong base"}, headers=manager),
                api.get("/health"),
            )
            elapsed = time.monotonic() - began
    finally:
        if env is not None:
            await env.shutdown()
    *calls, health = answers
    for r in calls:
        assert r.status_code == 503, (r.request.method, r.request.url.path, r.status_code, r.text)
        assert r.headers["retry-after"] and "Traceback" not in r.text
        assert r.json() == {"error": "temporal_unavailable", "detail": TEMPORAL_UNAVAILABLE.zh}  # Chinese by default
    assert health.status_code == 503 and health.json()["temporal"] == {"ok": False, "detail": "unreachable"}
    assert elapsed < 30, elapsed  # the client's retries are bounded
