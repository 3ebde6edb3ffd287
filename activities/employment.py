"""Her employment, recorded once per change, and the cases of hers that must hear of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.cases import Actor
from activities.unit import db_step
from db import audit
from db.models import Case, Employee, EmploymentEventRow
from domain.employment import STATUS_AFTER, EmploymentEvent


class Announce(BaseModel):
    event: EmploymentEvent
    actor: Actor
    at: dt.datetime


class EmploymentActivities:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    @activity.defn(name="employment.announce")
    def announce(self, req: Announce) -> list[str]:
        """Record the change on the employee (status, last day) and as an event, once; answer her
        other open cases, which the announcing workflow then tells."""
        e = req.event
        with db_step(self._sessions) as session:
            cases = list(session.scalars(select(Case.workflow_id).where(
                Case.employee_id == e.employee_id, Case.status == "open", Case.workflow_id != e.source)
                .order_by(Case.workflow_id)))
            first = session.execute(insert(EmploymentEventRow).values(
                event_id=e.id, employee_id=e.employee_id, kind=e.kind, on=e.on, source=e.source, told=cases,
                at=req.at).on_conflict_do_nothing(index_elements=[EmploymentEventRow.event_id])
                .returning(EmploymentEventRow.id)).first()
            if first is None:  # a retry: tell the same cases again (each applies an event once)
                return list(session.scalar(select(EmploymentEventRow.told).where(
                    EmploymentEventRow.event_id == e.id)) or [])
            session.execute(update(Employee).where(Employee.employee_id == e.employee_id).values(
                employment_status=STATUS_AFTER[e.kind],
                leaving_on=None if e.kind == "notice_withdrawn" else e.on))
            audit.append(session, audit.AuditEntry(
                actor=req.actor.user, actor_role=req.actor.role, action=f"employment.{e.kind}",
                workflow_id=e.source, subject=e.employee_id, request_id=req.actor.request_id,
                after={"on": e.on, "status": STATUS_AFTER[e.kind], "cases_told": cases}), at=req.at)
            return cases

    def all(self) -> list[Any]:
        return [self.announce]
