"""A case workflow on the time-skipping server with real PostgreSQL: case row, task, inbox,
audit trail, search attributes, and histories that are ciphertext without the key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.audit import verify_chain
from db.models import ApprovalTask, AuditEvent, Case, Employee
from domain.actors import Actor
from hrflow.codec import ENCODING
from tests.platform.probe_workflow import Decision, ProbeInput, ProbeWorkflow
from worker import build_worker

ID_NUMBER = "11010519491231002X"


def add_employee(session_factory, employee_id: str) -> None:
    import datetime as dt
    from decimal import Decimal

    with session_factory.begin() as s:
        s.add(Employee(employee_id=employee_id, resident_id_number=ID_NUMBER, name="王芳",
                       department="IT", position="Engineer", hire_date=dt.date(2020, 1, 1),
                       si_province="Beijing", si_city="Beijing", contribution_base=Decimal("12000.00")))


async def start_probe(client: Client, settings, employee_id: str, **options: Any) -> WorkflowHandle[Any, str]:
    """A probe case of hers, named as cases are (``probe-<employee>-<suffix>``)."""
    return await client.start_workflow(
        ProbeWorkflow.run, ProbeInput(employee_id=employee_id, name="王芳", resident_id_number=ID_NUMBER),
        id=f"probe-{employee_id}-{uuid.uuid4().hex[:6]}", task_queue=settings.temporal_task_queue, **options)


async def test_case_lifecycle_is_recorded_and_encrypted(temporal_env: WorkflowEnvironment, settings,
                                                        session_factory, codec) -> None:
    add_employee(session_factory, "E1001")
    client = temporal_env.client
    async with build_worker(client, settings, session_factory, extra_workflows=[ProbeWorkflow]):
        handle = await start_probe(client, settings, "E1001")
        workflow_id = handle.id
        # Wrong role: the validator refuses, nothing is written to history.
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ProbeWorkflow.decide,
                Decision(approve=True, actor=Actor(user="li", role="hr_specialist")),
            )
        await handle.execute_update(
            ProbeWorkflow.decide,
            Decision(approve=True, reason="ok", actor=Actor(user="wang", role="hr_manager", request_id="r-1")),
        )
        assert await handle.result() == "approved: 王芳"

    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == workflow_id))
        assert (case.kind, case.stage, case.status) == ("probe", "approved", "completed")
        assert case.closed_at is not None
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == workflow_id))
        assert (task.status, task.decision, task.actor, task.actor_role) == ("decided", "approved", "wang", "hr_manager")
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == workflow_id)
                                 .order_by(AuditEvent.id)))
        assert actions == ["probe.opened", "task.opened", "task.approved", "probe.stage_changed"]
        assert s.scalar(select(AuditEvent.request_id).where(AuditEvent.action == "task.approved")) == "r-1"
        assert verify_chain(s).ok

    # The validator rejection left no trace in history.
    history = await handle.fetch_history()
    updates = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert len(updates) == 1

    # Without the key, the history is ciphertext: no name, no ID number anywhere in it.
    raw = Client(client.service_client, namespace=client.namespace)
    raw_history = await raw.get_workflow_handle(workflow_id).fetch_history()
    start = raw_history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert start.metadata["encoding"] == ENCODING
    blob = raw_history.to_json().encode()
    assert ID_NUMBER.encode() not in blob and "王芳".encode() not in blob
    assert ID_NUMBER.encode() in (await codec.decode([start]))[0].data


async def test_case_activities_are_idempotent(settings, session_factory) -> None:
    import datetime as dt

    from activities.cases import CaseActivities
    from domain.contracts.cases import ChangeStage, OpenCase

    add_employee(session_factory, "E2002")
    acts = CaseActivities(session_factory)
    at = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    opened = OpenCase(workflow_id="wf-1", kind="probe", employee_id="E2002", stage="a", opened_at=at)
    acts.open_case(opened)
    acts.open_case(opened)  # a retry after the first attempt committed
    change = ChangeStage(workflow_id="wf-1", step="s1", stage="b", at=at)
    acts.change_stage(change)
    acts.change_stage(change)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 2
        assert s.scalar(select(Case.stage)) == "b"
