"""Her employment, recorded once per change, and the cases of hers that must hear of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio import activity

from activities.unit import DbActivities, append_audit, db_step
from db.models import Case, Delegation, Employee, EmploymentEventRow, StaffMember
from db.steps import insert_once
from domain.contracts.employment import ANNOUNCE, Announce
from domain.employment import STATUS_AFTER


class EmploymentActivities(DbActivities):
    @activity.defn(name=ANNOUNCE.name)
    def announce(self, req: Announce) -> list[str]:
        """Record the change on the employee (status, last day) and as an event, once; answer her
        other open cases, which the announcing workflow then tells."""
        e = req.event
        with db_step(self._sessions) as session:
            cases = list(session.scalars(select(Case.workflow_id).where(
                Case.employee_id == e.employee_id, Case.status == "open", Case.workflow_id != e.source)
                .order_by(Case.workflow_id)))
            first = insert_once(session, EmploymentEventRow, [EmploymentEventRow.event_id], event_id=e.id,
                                employee_id=e.employee_id, kind=e.kind, on=e.on, source=e.source, told=cases, at=req.at)
            if not first:  # a retry: tell the same cases again (each applies an event once)
                return list(session.scalar(select(EmploymentEventRow.told).where(
                    EmploymentEventRow.event_id == e.id)) or [])
            session.execute(update(Employee).where(Employee.employee_id == e.employee_id).values(
                employment_status=STATUS_AFTER[e.kind],
                leaving_on=None if e.kind == "notice_withdrawn" else e.on))
            append_audit(session, req.actor, f"employment.{e.kind}", workflow_id=e.source, at=req.at,
                         subject=e.employee_id, after={"on": e.on, "status": STATUS_AFTER[e.kind], "cases_told": cases})
            if e.kind == "departed":
                _logins_end(session, req)
            return cases

    def all(self) -> list[Any]:
        return [self.announce]


def _logins_end(session: Session, req: Announce) -> None:
    """She has left: her staff logins sign in no more, and delegations to her end. Delegations she
    gave stay in force to their end: her delegate finishes what she left pending."""
    e = req.event
    logins = list(session.scalars(select(StaffMember.user_id).where(StaffMember.employee_id == e.employee_id,
                                                                     StaffMember.active)))
    if not logins:
        return
    session.execute(update(StaffMember).where(StaffMember.user_id.in_(logins)).values(active=False))
    ended = list(session.scalars(update(Delegation).where(Delegation.delegate.in_(logins), Delegation.revoked_at.is_(None))
                                 .values(revoked_at=req.at, revoked_by="system").returning(Delegation.id)))
    append_audit(session, req.actor, "staff.left", workflow_id=e.source, at=req.at, subject=e.employee_id,
                 after={"logins": logins, "delegations_ended": ended, "on": e.on})
