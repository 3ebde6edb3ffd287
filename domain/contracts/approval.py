"""Approver routes resolved for a case, and a leaver's open approvals handed on."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from domain.actors import Actor
from domain.approval_routes import FieldValue, ResolvedRoute, Signer
from domain.contracts import ActivityRef


class ResolveRoute(BaseModel):
    decision: str
    fields: dict[str, FieldValue]
    subject: str  # the employee the case is about: she never signs it
    maker: str | None  # the login that filed it: she never checks it
    on: dt.date  # the case's first day: whose manager was whom then
    version: int | None = None  # the version the case pinned (None: the one in force on ``on``)


class LeaverTasks(BaseModel):
    employee_id: str
    on: dt.date  # her last day: her manager then takes her approvals


class Handover(BaseModel):
    """One open approval of hers, and who takes it (None: any hr_manager)."""

    workflow_id: str
    task_key: str
    from_user: str
    to: Signer | None


class Reassign(BaseModel):
    """Signal ``tasks_reassigned``: ``from_user``'s open approvals in this case go to ``to``."""

    from_user: str
    to: Signer | None
    reason: str
    actor: Actor


REASSIGN_SIGNAL = "tasks_reassigned"
HANDLES_REASSIGN = frozenset({"si_change", "maternity", "offboarding"})  # the case kinds whose workflows run approver routes

# The activities, by the names recorded in every history.
RESOLVE_ROUTE: ActivityRef[ResolveRoute, ResolvedRoute] = ActivityRef("approval.resolve_route", ResolvedRoute, bookkeeping=True)
TASKS_OF_LEAVER: ActivityRef[LeaverTasks, list[Handover]] = ActivityRef("approval.tasks_of_leaver", list[Handover], bookkeeping=True)
