"""Approver routes resolved from the directory, and the open approvals a leaver hands on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from temporalio import activity

from activities.unit import DbActivities, db_step
from db import approval_routes
from db.models import ApprovalTask, Case, StaffMember
from db.organisation import manager_on
from domain.approval_routes import ResolvedRoute
from domain.contracts import approval as contract


class ApprovalActivities(DbActivities):
    @activity.defn(name=contract.RESOLVE_ROUTE.name)
    def resolve_route(self, req: contract.ResolveRoute) -> ResolvedRoute:
        """Read-only: a retry resolves the same people from the same rows."""
        with db_step(self._sessions) as session:
            route = approval_routes.route_in_force(session, req.decision, req.on, req.version)
            return approval_routes.resolve(session, route, req.fields, subject=req.subject, maker=req.maker, on=req.on)

    @activity.defn(name=contract.TASKS_OF_LEAVER.name)
    def tasks_of_leaver(self, req: contract.LeaverTasks) -> list[contract.Handover]:
        """Her open approvals (named to one of her logins) in open cases, each to go to her line
        manager on her last day (her login), or to any hr_manager when she has none who may sign."""
        with db_step(self._sessions) as session:
            logins = list(session.scalars(select(StaffMember.user_id).where(StaffMember.employee_id == req.employee_id)))
            if not logins:
                return []
            rows = session.execute(
                select(ApprovalTask.workflow_id, ApprovalTask.task_key, ApprovalTask.assignee, Case.employee_id)
                .join(Case, Case.workflow_id == ApprovalTask.workflow_id)
                .where(ApprovalTask.assignee.in_(logins), ApprovalTask.status == "open", ApprovalTask.by_hand.is_(False),
                       Case.status == "open", Case.kind.in_(contract.HANDLES_REASSIGN))
                .order_by(ApprovalTask.workflow_id, ApprovalTask.task_key)).all()
            manager = manager_on(session, req.employee_id, req.on)
            member = approval_routes.login_of(session, manager) if manager else None
            handovers: list[contract.Handover] = []
            for row in rows:
                to = None
                if member is not None and member.employee_id != row.employee_id:
                    to = approval_routes.as_signer(
                        member, f"离职人员 {req.employee_id} 的直属上级 {manager} (the leaver's line manager)")
                handovers.append(contract.Handover(workflow_id=row.workflow_id, task_key=row.task_key,
                                                   from_user=row.assignee, to=to))
            return handovers

    def all(self) -> list[Any]:
        return [self.resolve_route, self.tasks_of_leaver]
