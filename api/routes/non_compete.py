"""Non-compete follow-up: view, proofs of employment, violation, release and the release claim.

Offboarding starts a non-compete as its child; HR may also start one here for an agreement that
predates hrflow. The former employee sees her own, submits her proofs and claims the release
compensation; compliance or an hr_manager reports a violation; an hr_manager releases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field

from api import workflow_calls
from api.auth import Anyone, Hr, HrManager, HrOrSelf, Principal, require
from api.bodies import Body, OptionalReason
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate
from api.routes import resource_router
from api.transactions import transact
from api.workflow_calls import CaseWorkflow
from db.models import Employee
from domain.policy import PolicyError
from domain.policy.deadlines import non_compete_rule
from domain.roles import Role
from workflows import non_compete

W = non_compete.NonCompeteWorkflow
router = resource_router(tags=["non-compete"])
PREFIX = "/non-competes"
CASES = CaseRoutes(router, PREFIX, ids="non-compete-", what="non-compete", kind="non_compete", model=non_compete.NonCompeteView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view))

Violation = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.HR_MANAGER))]
FormerEmployee = Annotated[Principal, Depends(require(Role.EMPLOYEE))]


class StartIn(Body):
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    start: PlausibleDate = Field(description="the day after departure")
    months: int = Field(ge=1, description="at most the pinned rule's max_months (24)")
    monthly_compensation: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
    payday: int = Field(default=10, ge=1, le=28)
    months_already_paid: int = Field(default=0, ge=0, description="paid outside hrflow before today")


class ProofIn(Body):
    employer: Annotated[str, Field(min_length=1, max_length=200)]
    reference: Annotated[str, Field(min_length=1, max_length=200)]
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] | None = None


class ViolationIn(Body):
    evidence: Annotated[str, Field(min_length=1, max_length=4000)]


class ReleaseIn(Body):
    reason: OptionalReason = None


def _refuse(field: str, rule: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", [{"field": field, "rule": rule, "message": message}])


@router.post(PREFIX, status_code=201, response_model=non_compete.NonCompeteView, responses=responses(400, 401, 403, 422, 503))
async def start(body: StartIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Hr) -> non_compete.NonCompeteView:
    """Start the follow-up of an agreement made outside an hrflow offboarding."""
    settings = request.app.state.settings
    employee = await transact(request, lambda s: s.get(Employee, body.employee_id))
    if employee is None:
        raise _refuse("employee_id", "employee_exists", f"no employee {body.employee_id}")
    try:
        rule = non_compete_rule(body.start - dt.timedelta(days=1))  # the rule in force at departure
    except PolicyError as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    if body.months > rule.max_months:
        raise _refuse("months", "non_compete_max_months",
                      f"a non-compete lasts at most {rule.max_months} months (LCL art. 24)")
    if body.months_already_paid > body.months:
        raise _refuse("months_already_paid", "within_term", "more months paid than the term has")
    workflow_id = f"non-compete-{employee.employee_id}-{body.start.isoformat()}"
    req = non_compete.NonCompeteRequest(
        employee_id=employee.employee_id, start=body.start, months=body.months,
        monthly_compensation=body.monthly_compensation, rule=rule, payday=body.payday,
        filed_by=workflow_calls.actor(principal, request_id), department=employee.department,
        months_paid=body.months_already_paid)
    # a closed agreement is never started again: its payments are on record under this id
    return await CASES.start(
        temporal, req, id=workflow_id, task_queue=settings.temporal_task_queue,
        request_id=request_id, closed="conflict",
        employee_id=employee.employee_id, stage="active",
        department=employee.department,
        summary=f"Non-compete of {employee.employee_id} from {body.start}",
        details=f"{body.months} months; payday {body.payday}; rule {rule.id}")


@router.get(PREFIX + "/{workflow_id}", response_model=non_compete.NonCompeteView, responses=responses(401, 404))
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> non_compete.NonCompeteView:
    return await CASES.read(request, temporal, principal, workflow_id)


CASES.message("/proof", W.submit_proof, HrOrSelf, carrying(non_compete.SubmitProof), ProofIn,
              description="Proof of her current employment (employer and e.g. a social-insurance record number).")
CASES.message("/violation", W.report_violation, Violation, carrying(non_compete.ReportViolation), ViolationIn)
CASES.message("/release", W.release, HrManager, carrying(non_compete.Release), ReleaseIn)
CASES.message("/release-claim", W.claim_release_compensation, FormerEmployee,
              lambda actor, _: non_compete.ClaimRelease(actor=actor))
