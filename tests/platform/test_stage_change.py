"""Moving a case: one statement claims the step, locks and moves its row; the audit says what it was before."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from activities.cases import move_stage
from db.models import ActivityStep, ApprovalTask, AuditEvent, Case
from domain.actors import Actor
from domain.contracts.cases import ChangeStage, CloseTask

AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def _open(session_factory, workflow_id: str) -> None:
    with session_factory.begin() as s:
        s.add(Case(workflow_id=workflow_id, kind="probe", stage="submitted", summary="原来的摘要", opened_at=AT))


def _move(session_factory, workflow_id: str, step: str, **change) -> tuple[Case, AuditEvent]:
    with session_factory.begin() as s:
        assert move_stage(s, ChangeStage(workflow_id=workflow_id, step=step, at=AT + dt.timedelta(hours=1),
                                         **change))
    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == workflow_id))
        entry = s.scalars(select(AuditEvent).where(AuditEvent.workflow_id == workflow_id)
                          .order_by(AuditEvent.id.desc())).first()
        assert case is not None and entry is not None
        return case, entry


def test_a_move_keeps_what_it_does_not_change_and_audits_what_it_was(session_factory) -> None:
    _open(session_factory, "probe-E1-a")
    case, entry = _move(session_factory, "probe-E1-a", "s1", stage="reviewing")
    assert (case.stage, case.status, case.summary, case.closed_at) == ("reviewing", "open", "原来的摘要", None)
    assert entry.before == {"stage": "submitted", "status": "open"}
    assert entry.after == {"stage": "reviewing", "status": "open"}

    case, entry = _move(session_factory, "probe-E1-a", "s2", stage="reviewing", summary="新的摘要",
                        next_due_at=AT + dt.timedelta(days=3))
    assert (case.summary, case.next_due_at) == ("新的摘要", AT + dt.timedelta(days=3))
    assert entry.before["summary"] == "原来的摘要" and entry.after["summary"] == "新的摘要"


def test_a_status_ends_the_case_and_open_reopens_it(session_factory) -> None:
    _open(session_factory, "probe-E1-b")
    case, entry = _move(session_factory, "probe-E1-b", "s1", stage="completed", status="completed")
    assert (case.status, case.closed_at) == ("completed", AT + dt.timedelta(hours=1))
    assert (entry.before["status"], entry.after["status"]) == ("open", "completed")
    case, _ = _move(session_factory, "probe-E1-b", "s2", stage="reviewing")  # no status: stays ended
    assert (case.status, case.closed_at) == ("completed", AT + dt.timedelta(hours=1))
    case, entry = _move(session_factory, "probe-E1-b", "s3", stage="reopened", status="open")
    assert (case.status, case.closed_at) == ("open", None)
    assert entry.before["status"] == "completed"


def test_a_step_done_before_moves_nothing_and_audits_nothing(session_factory) -> None:
    _open(session_factory, "probe-E1-c")
    _move(session_factory, "probe-E1-c", "s1", stage="reviewing")
    with session_factory.begin() as s:  # the retry of s1 after its commit, with other facts
        assert not move_stage(s, ChangeStage(workflow_id="probe-E1-c", step="s1", stage="approved", status="completed",
                                             at=AT + dt.timedelta(hours=2)))
    with session_factory() as s:
        case = s.scalar(select(Case).where(Case.workflow_id == "probe-E1-c"))
        entries = s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == "probe-E1-c")).all()
    assert case is not None and (case.stage, case.status) == ("reviewing", "open")
    assert entries == ["probe.stage_changed"]


def test_a_case_not_open_yet_is_retried_and_its_step_stays_unclaimed(session_factory) -> None:
    with pytest.raises(ValueError, match="is not open"), session_factory.begin() as s:
        move_stage(s, ChangeStage(workflow_id="probe-nobody", step="s1", stage="x", at=AT))
    with session_factory() as s:
        assert s.get(ActivityStep, ("probe-nobody", "s1")) is None  # the retry, once the case is open, moves it
    _open(session_factory, "probe-nobody")
    case, _ = _move(session_factory, "probe-nobody", "s1", stage="x")
    assert case.stage == "x"


def test_a_decision_closes_its_tasks_in_the_move_and_a_retry_closes_nothing_again(session_factory) -> None:
    """A checker's decision carried by the move (``ChangeStage.closes``): her task decided and the
    route's other one cancelled, audited before the stage, all in the move's transaction."""
    _open(session_factory, "probe-E1-d")
    with session_factory.begin() as s:
        for key in ("approve-t1", "approve-t2"):
            s.add(ApprovalTask(workflow_id="probe-E1-d", task_key=key, title="审批", role="hr_manager", created_at=AT))
    checker = Actor(user="mgr.wang", role="hr_manager")
    closes = [CloseTask(workflow_id="probe-E1-d", task_key="approve-t1", decision="approved", at=AT, actor=checker),
              CloseTask(workflow_id="probe-E1-d", task_key="approve-t2", decision="cancelled", reason="或签 (any one signs)",
                        at=AT)]
    for _ in range(2):  # the second is the retry after the commit
        with session_factory.begin() as s:
            move_stage(s, ChangeStage(workflow_id="probe-E1-d", step="s1", stage="approved", at=AT, actor=checker,
                                      closes=closes))
    with session_factory() as s:
        tasks = {t.task_key: (t.status, t.decision, t.actor) for t in
                 s.scalars(select(ApprovalTask).where(ApprovalTask.workflow_id == "probe-E1-d"))}
        entries = list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == "probe-E1-d")
                                 .order_by(AuditEvent.id)))
    assert tasks == {"approve-t1": ("decided", "approved", "mgr.wang"), "approve-t2": ("cancelled", "cancelled", "system")}
    assert entries == ["task.approved", "task.cancelled", "probe.stage_changed"]
