"""The task actions on a case's approver route, for every process that runs one: transfer (转交),
add a signer (加签), return to an earlier step (退回).

Who may sign is the case's route, not the caller's role (a line manager may hold any role): these
routes let any caller through, and the workflow refuses anyone its current step does not name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from api import workflow_calls
from api.auth import Authenticated, Principal
from api.bodies import Body, Reason, UserId
from api.case_routes import CaseRoutes
from api.deps import RequestId, TemporalDep
from api.errors import responses
from api.plausibility import problem, refuse
from api.transactions import transact
from db import approval_routes
from domain.approval_routes import Signer
from domain.roles import Role
from workflows.approval_chain import AddSigner, ReturnToStep, TransferTask


def signatory(*offered: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: the caller of a decision that an approver route assigns, anyone signed in. The
    web app offers the decision to the roles ``offered`` and to whoever the case's current step
    names (``api.web.actions.signs_now``)."""
    async def anyone(principal: Authenticated) -> Principal:
        return principal

    vars(anyone)["roles"] = frozenset(offered)
    vars(anyone)["routed"] = True
    return anyone


Signatory = Annotated[Principal, Depends(signatory())]


class TransferIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"to_user": "mgr.zhou", "reason": "本人出差，转周经理审批"}]})

    to_user: UserId = Field(description="接手审批的登录名 (the login who signs instead)")
    reason: Reason


class AddSignerIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"to_user": "fin.chen", "order": "before", "reason": "金额较大，请财务先核对"}]})

    to_user: UserId = Field(description="加签人的登录名 (the login asked to sign too)")
    order: Literal["before", "after"] = Field(description="before: 加签人先签，本人后签; after: 本人签后再由加签人签")
    reason: Reason


class ReturnIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"step": 1, "reason": "部门负责人未核对，请重新审批"}]})

    step: int = Field(ge=1, le=50, description="退回到第几步（从 1 数起） (the step to return to, counting from 1)")
    reason: Reason


async def _signer_named(request: Request, user: str) -> Signer:
    """The active staff login ``user`` as an approver (422 naming ``to_user`` when the directory has none)."""
    def work(session: Session) -> Signer | None:
        return approval_routes.signer_named(session, user)

    found = await transact(request, work)
    if found is None:
        raise refuse(problem("to_user", "listed_staff", f"{user} 不是人员名录中在岗的人员",
                             f"{user} is not an active member of the staff directory"))
    return found


TRANSFER_DOC = """当前步骤的审批人把自己的审批转交给另一位在岗人员，由其代为签批；已记入审计。接手人不能是当事人、经办人或已签批的人
（403/422）；不是当前步骤审批人答 403，按旧规则审批的案件不支持（409）。

The approver of the current step hands her approval to another active member of staff, who signs
in her place; audited. The newcomer may not be the subject, the maker or someone who signed (403
or 422); someone the current step does not name is 403; a case decided under the old rule (one
role) has no route to transfer in (409)."""

ADD_SIGNER_DOC = """当前步骤的审批人加签一位在岗人员：before（前加签）由加签人先签，本人的待办在其签批后重新打开；after（后加签）本人签后
再由加签人签。已记入审计；规则同转交。

The approver of the current step asks one more active member of staff to sign: ``before``, the
newcomer signs first and the caller's task reopens after; ``after``, the newcomer signs after the
caller. Audited; the rules of a transfer apply."""

RETURN_DOC = """当前步骤的审批人把审批退回到前面的某一步（从 1 数起）：该步及其后各步的签批作废，该步的审批人重新签批；已记入审计。
只能退回到当前步骤之前（422）；不是当前步骤审批人答 403。

The approver of the current step sends the approval back to an earlier step (counting from 1):
that step's signatures and those after it are void, and its approvers sign again; audited. Only
a step before the current one (422); someone the current step does not name is 403."""


def add_task_actions(cases: CaseRoutes[Any], transfer: Any, add_signer: Any, return_to_step: Any, *,
                     at: str = "") -> None:
    """``POST {id}{at}/transfer``, ``{at}/add-signer`` and ``{at}/return`` on ``cases``' router,
    sending the updates the process inherits from ``workflows.routed_case.RoutedCase``."""
    errors = responses(400, 401, 403, 404, 409, 422)
    path = f"{cases.prefix}/{{workflow_id}}{at}"

    async def transfer_task(workflow_id: str, body: TransferIn, request: Request, temporal: TemporalDep,
                            request_id: RequestId, principal: Signatory) -> Any:
        to = await _signer_named(request, body.to_user)
        return await cases.send(request, temporal, principal, workflow_id, transfer, TransferTask(
            actor=workflow_calls.actor(principal, request_id), reason=body.reason,
            to=to.model_copy(update={"label": f"{principal.user} 转交 (transferred)"})))

    async def add_another(workflow_id: str, body: AddSignerIn, request: Request, temporal: TemporalDep,
                          request_id: RequestId, principal: Signatory) -> Any:
        to = await _signer_named(request, body.to_user)
        return await cases.send(request, temporal, principal, workflow_id, add_signer, AddSigner(
            actor=workflow_calls.actor(principal, request_id), position=body.order, reason=body.reason, to=to))

    async def send_back(workflow_id: str, body: ReturnIn, request: Request, temporal: TemporalDep,
                        request_id: RequestId, principal: Signatory) -> Any:
        return await cases.send(request, temporal, principal, workflow_id, return_to_step, ReturnToStep(
            actor=workflow_calls.actor(principal, request_id), step=body.step - 1, reason=body.reason))

    for suffix, endpoint, doc, summary, name in (
            ("/transfer", transfer_task, TRANSFER_DOC, "转交审批 (Transfer one's approval)", "transfer"),
            ("/add-signer", add_another, ADD_SIGNER_DOC, "加签 (Ask one more approver)", "add_signer"),
            ("/return", send_back, RETURN_DOC, "退回到前面的步骤 (Return to an earlier step)", "return_to_step")):
        endpoint.__doc__ = doc
        cases.router.add_api_route(f"{path}{suffix}", endpoint, methods=["POST"], response_model=cases.model,
                                   responses=errors, summary=summary,
                                   name=f"{cases.kind}_{name}" if at else name)
