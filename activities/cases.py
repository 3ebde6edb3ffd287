"""Activities every process uses: open a case, move its stage, open and decide approval tasks,
write audit records. Each is one transaction, idempotent on (workflow id, step).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, text, update
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit import DbActivities, append_audit, audit_once, db_step
from db import outbox as db_outbox
from db.base import table, upsert
from db.models import ApprovalTask, Case, CaseDeadline
from db.steps import insert_once
from domain import workdays
from domain.actors import Actor
from domain.case_notices import stage_notice
from domain.contracts import cases as contract
from domain.policy.deadlines import due_date
from domain.refusals import Refusal

_CASES = table(Case)
# The hot path's statements, built once (building a statement costs more Python than running it).
# Claim the step, lock the case row and move it, in one call that answers whether the step was
# claimed and what the case was: a server-side function (migration 0027), whose plans PostgreSQL
# keeps. A step claimed before (a retry after the commit) moves nothing.
_CLAIM_AND_MOVE = text(
    "SELECT claimed, moved, kind, employee_id, stage, status, summary FROM hrflow_claim_and_move("
    ":case, :step, :stage, :status, :summary, CAST(:next_due_at AS timestamptz), CAST(:at AS timestamptz))")
_DEADLINES = table(CaseDeadline)
_CANCEL_DEADLINES = (update(_DEADLINES)
                     .where(_DEADLINES.c.workflow_id == bindparam("case"), _DEADLINES.c.status == "open")
                     .values(status="cancelled", updated_at=bindparam("at")))
_CLOSE_DEADLINE = update(_DEADLINES).where(  # its SET is the other parameters
    _DEADLINES.c.workflow_id == bindparam("case"), _DEADLINES.c.kind == bindparam("kind_"),
    _DEADLINES.c.ref == bindparam("ref_"))
_UPSERT_DEADLINE = upsert(CaseDeadline, ["workflow_id", "kind", "ref"], ["due_at", "status", "details", "updated_at"])
_TASKS = table(ApprovalTask)
_CLOSE_TASK = (update(_TASKS)  # its SET is the other parameters
               .where(_TASKS.c.workflow_id == bindparam("case"), _TASKS.c.task_key == bindparam("key"),
                      _TASKS.c.status == "open")
               .returning(_TASKS.c.title))


def move_stage(session: Session, req: contract.ChangeStage) -> bool:
    """Claim ``req.step``, move the case row and audit it, in the caller's transaction: False (and
    nothing written) when the step was claimed before."""
    case = claim_and_move(session, req)
    if case is not None:
        audit_move(session, req, case)
    return case is not None


def claim_and_move(session: Session, req: contract.ChangeStage) -> Row[Any] | None:
    """Claim ``req.step``, move the case row and close the tasks its decision closes
    (``req.closes``): the case as it was, None (and nothing written) when the step was claimed
    before. The caller audits the move (``audit_move``) in the same transaction."""
    row = session.execute(_CLAIM_AND_MOVE, {"case": req.workflow_id, "step": req.step, "stage": req.stage,
                                            "status": req.status, "summary": req.summary,
                                            "next_due_at": req.next_due_at, "at": req.at}).one()
    if not row.claimed:
        return None
    if not row.moved:
        raise ValueError(f"case {req.workflow_id} is not open")  # retried (the claim rolls back): open may lag
    for closing in req.closes:
        close_open_task(session, closing)
    return row


def audit_move(session: Session, req: contract.ChangeStage, case: Row[Any]) -> None:
    """The audit entry of a move (``case`` as it was), the end of a closed case's dates, and her notice."""
    before = {**req.before, "stage": case.stage, "status": case.status}
    after: dict[str, Any] = {}
    if req.summary is not None and req.summary != case.summary:
        before["summary"], after["summary"] = case.summary, req.summary
    status = req.status if req.status is not None else case.status
    if req.status is not None and req.status != "open":  # a closed case owes no more dates: nobody is reminded of them
        session.execute(_CANCEL_DEADLINES, {"case": req.workflow_id, "at": req.at})
    append_audit(session, req.actor, f"{case.kind}.stage_changed", workflow_id=req.workflow_id,
                 at=req.at, subject=case.employee_id, before=before,
                 after={"stage": req.stage, "status": status, **after, **req.details})
    told = stage_notice(case.kind, req.stage, before["stage"], req.details)
    if told is not None:  # she hears of each step of her case (once per step)
        employee = case.employee_id
        assert employee is not None, "a case row is opened only by open_case, always for an employee"
        db_outbox.enqueue(session, dedupe_key=f"{req.workflow_id}:{req.step}:stage:employee:{employee}",
                          recipient_kind="employee", recipient=employee, template="case.stage_changed",
                          params={**told, "stage": req.stage}, workflow_id=req.workflow_id, at=req.at)


def close_open_task(session: Session, req: contract.CloseTask) -> None:
    """Close the task and audit its decision, in the caller's transaction; nothing when it was
    closed before (a retry, or a decision that closed it already)."""
    closed = session.execute(_CLOSE_TASK, {
        "case": req.workflow_id, "key": req.task_key,
        "status": "cancelled" if req.decision == "cancelled" else "decided", "decision": req.decision,
        "reason": req.reason, "actor": req.actor.user, "actor_role": req.actor.role, "decided_at": req.at,
    }).first()
    if closed is not None:
        append_audit(session, req.actor, f"task.{req.decision}", workflow_id=req.workflow_id, at=req.at,
                     after={"task": req.task_key, "title": closed.title, "reason": req.reason})


def require_arrangement(year: int | None, notice_id: int | None = None) -> None:
    """Re-planning on an arrangement this worker has not read yet (or on the one a correction
    replaced) would plan on the old calendar: retry (the operator layer is re-read within
    seconds) until it has."""
    if year is None:
        return
    found = workdays.operator_arrangements().get(year)
    if found is None or (notice_id is not None and found.notice_id != notice_id):
        raise ApplicationError(f"the {year} holiday arrangement (notice {notice_id}) is not read by this worker"
                               " yet; retrying", type=Refusal.ARRANGEMENT_NOT_LOADED.type_name)


class CaseActivities(DbActivities):
    @activity.defn(name=contract.OPEN_CASE.name)
    def open_case(self, req: contract.OpenCase) -> None:
        with db_step(self._sessions) as session:
            if not insert_once(session, Case, [Case.workflow_id], workflow_id=req.workflow_id, kind=req.kind,
                               employee_id=req.employee_id, stage=req.stage, summary=req.summary,
                               policy_version=req.policy_version, opened_at=req.opened_at):
                return  # retried after commit: already open
            append_audit(session, req.actor, f"{req.kind}.opened", workflow_id=req.workflow_id,
                         at=req.opened_at, subject=req.employee_id,
                         after={"stage": req.stage, "policy_version": req.policy_version, **req.details})

    @activity.defn(name=contract.CHANGE_STAGE.name)
    def change_stage(self, req: contract.ChangeStage) -> None:
        with db_step(self._sessions) as session:
            move_stage(session, req)

    @activity.defn(name=contract.OPEN_TASK.name)
    def open_task(self, req: contract.OpenTask) -> None:
        with db_step(self._sessions) as session:
            opened = insert_once(session, ApprovalTask, [ApprovalTask.workflow_id, ApprovalTask.task_key],
                                 workflow_id=req.workflow_id, task_key=req.task_key, title=req.title, role=req.role,
                                 assignee=req.assignee, due_at=req.due_at, created_at=req.at, by_hand=req.by_hand)
            if opened:  # task keys are unique per case; a retry finds it there
                append_audit(session, Actor(), "task.opened", workflow_id=req.workflow_id, at=req.at,
                             after={"task": req.task_key, "title": req.title, "role": req.role,
                                    "assignee": req.assignee, "due_at": req.due_at})
                if req.role != "any":  # whoever must act is told, not left to poll the inbox
                    kind, who = ("user", req.assignee) if req.assignee else ("role", req.role)
                    db_outbox.enqueue(session, dedupe_key=f"{req.workflow_id}:{req.task_key}:opened:{kind}:{who}",
                                      recipient_kind=kind, recipient=who, template="task.opened",
                                      params={"title": req.title, "due": req.due_at, "by_hand": req.by_hand,
                                              "task_key": req.task_key},
                                      workflow_id=req.workflow_id, at=req.at)

    @activity.defn(name=contract.CLOSE_TASK.name)
    def close_task(self, req: contract.CloseTask) -> None:
        with db_step(self._sessions) as session:
            close_open_task(session, req)

    @activity.defn(name=contract.RECORD_AUDIT.name)
    def record_audit(self, req: contract.RecordAudit) -> None:
        with db_step(self._sessions) as session:
            audit_once(session, req.step, req.actor, req.action, workflow_id=req.workflow_id, at=req.at,
                       subject=req.subject, before=req.before, after=req.after)

    @activity.defn(name=contract.TRACK_DEADLINE.name)
    def track_deadline(self, req: contract.TrackDeadline) -> None:
        """Upsert keyed by (case, kind, ref): a retry or a moved date writes the same row. Meeting
        or cancelling one only updates a row that exists."""
        with db_step(self._sessions) as session:
            if req.status != "open":  # closing: only a deadline that was recorded (its date stays)
                session.execute(_CLOSE_DEADLINE, {"case": req.workflow_id, "kind_": req.kind, "ref_": req.ref,
                                                  "status": req.status, "updated_at": req.at})
                return
            session.execute(_UPSERT_DEADLINE, {
                "workflow_id": req.workflow_id, "kind": req.kind, "ref": req.ref, "employee_id": req.employee_id,
                "due_at": req.due_at, "status": req.status, "details": req.details, "updated_at": req.at})

    @activity.defn(name=contract.PLAN_DEADLINE.name)
    def plan_deadline(self, req: contract.PlanDeadline) -> contract.PlannedDeadline:
        """A statutory date through the one deadline function (its rule's unit and roll), on the
        calendar as this worker knows it now: workflow code never reads the calendar."""
        require_arrangement(req.arrangement_year, req.arrangement_notice)
        found = due_date(req.rule, req.from_date)
        return contract.PlannedDeadline(due=found.date, provisional=found.provisional)

    def all(self) -> list[Any]:
        return [self.open_case, self.change_stage, self.open_task, self.close_task, self.record_audit,
                self.track_deadline, self.plan_deadline]
