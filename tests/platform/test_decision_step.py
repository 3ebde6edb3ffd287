"""A checker's decision on an enrollment change is one step: the task closes in the transaction that
records the stage it leads to, and a retried step writes neither again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from activities.cases import CaseActivities
from activities.si_change import SocialInsuranceActivities
from db.models import ApprovalTask, AuditEvent, Case
from domain.actors import Actor
from domain.contracts import si_change as contract
from domain.contracts.cases import CloseTask, OpenCase, OpenTask
from domain.si_change import ChangeKind
from tests.processes.support import add_employee

AT = dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.UTC)
CHECKER = Actor(user="mgr.wang", role="hr_manager")
FACTS = contract.ChangeFacts(employee_id="E1", city="北京", kind=ChangeKind.BASE_ADJUSTMENT,
                             base=Decimal("12000.00"), effective_month="2027-01")


def _submitted(session_factory, workflow_id: str) -> tuple[CaseActivities, SocialInsuranceActivities]:
    add_employee(session_factory, "E1")
    cases, si = CaseActivities(session_factory), SocialInsuranceActivities(session_factory, None)  # type: ignore[arg-type]
    cases.open_case(OpenCase(workflow_id=workflow_id, kind="si_change", employee_id="E1", stage="submitted",
                             opened_at=AT))
    cases.open_task(OpenTask(workflow_id=workflow_id, task_key="approve-t2", title="审批社保变更", role="hr_manager",
                             at=AT))
    return cases, si


def _decision(workflow_id: str, stage: str, decision: str, step: str = "t3") -> contract.Transition:
    return contract.Transition(
        workflow_id=workflow_id, step=step, facts=FACTS, stage=stage, estimate_total=Decimal("2000.00"),
        maker="hr.li", approver=CHECKER.user, at=AT + dt.timedelta(hours=1), actor=CHECKER,
        closes=[CloseTask(workflow_id=workflow_id, task_key="approve-t2", decision=decision,
                          at=AT + dt.timedelta(hours=1), actor=CHECKER)])


def _trail(session_factory, workflow_id: str) -> list[str]:
    with session_factory() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.workflow_id == workflow_id)
                              .order_by(AuditEvent.id)))


def test_an_approval_closes_its_task_and_moves_the_stage_in_one_step(session_factory) -> None:
    wf = "si-change-E1-decided"
    _, si = _submitted(session_factory, wf)
    si.transition(_decision(wf, "approved", "approved"))
    with session_factory() as s:
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf))
        case = s.scalar(select(Case).where(Case.workflow_id == wf))
        assert task is not None and case is not None
        assert (task.status, task.decision, task.actor) == ("decided", "approved", CHECKER.user)
        assert case.stage == "approved"
    # the task's decision is on the trail before the stage it led to, as when they were two steps
    assert _trail(session_factory, wf)[-2:] == ["task.approved", "si_change.stage_changed"]


def test_a_retried_decision_writes_nothing_twice(session_factory) -> None:
    wf = "si-change-E1-retried"
    _, si = _submitted(session_factory, wf)
    si.transition(_decision(wf, "rejected", "rejected"))
    before = _trail(session_factory, wf)
    si.transition(_decision(wf, "rejected", "rejected"))  # the attempt's answer was lost: the worker retries
    assert _trail(session_factory, wf) == before
    assert before.count("task.rejected") == 1


def test_a_step_that_fails_after_the_close_leaves_the_task_open(session_factory, monkeypatch) -> None:
    """The two writes stand or fall together: when the stage's audit fails (the database went away
    mid-step, say), the task is open again and its decision is not on the trail; the retry does both."""
    wf = "si-change-E1-failed"
    _, si = _submitted(session_factory, wf)

    def lost(*_: object) -> None:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr("activities.si_change.audit_move", lost)
        with pytest.raises(ConnectionError):
            si.transition(_decision(wf, "approved", "approved"))
    with session_factory() as s:
        task = s.scalar(select(ApprovalTask).where(ApprovalTask.workflow_id == wf))
        assert task is not None and task.status == "open"
    assert "task.approved" not in _trail(session_factory, wf)
    si.transition(_decision(wf, "approved", "approved"))
    assert _trail(session_factory, wf)[-2:] == ["task.approved", "si_change.stage_changed"]
