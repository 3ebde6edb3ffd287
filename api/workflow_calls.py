"""Sending messages to workflows from the API, with their refusals turned into HTTP answers.

A validator's refusal is an ``ApplicationError`` whose ``type`` names a member of the one refusal
table (``domain.refusals.Refusal``); the member decides the status, the error code and the title
the answer carries: the wrong person or role is 403, the wrong moment is 409, a bad correction is
422. A type the table does not know is logged and answered 409 ``refused``, never a 500. The title
and the workflow's message ("中文 (English)") are both answered in the caller's language.

An update waits for the workflow to decide, and with no worker running that wait has no end. The
API's client bounds it (``bounded_updates``, ``HRFLOW_TEMPORAL_UPDATE_WAIT_SECONDS``): past the
bound the caller gets 503 ``pending``. The update keeps its id (the request id), so the
same request sent again learns the outcome, and the decision is applied at most once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodAsyncSingleParam, MethodSyncOrAsyncNoParam
from temporalio.workflow import UpdateMethodMultiParam

from api.auth import Principal
from api.errors import ApiError
from api.i18n import Text
from db.person_keys import KeyDestroyed
from domain.actors import Actor
from domain.refusals import Refusal

log = logging.getLogger("hrflow.api")

Req = TypeVar("Req")  # what a workflow is started with
View = TypeVar("View")  # what a case answers: its view
Msg = TypeVar("Msg")  # a message an update carries
Answer = TypeVar("Answer")  # what an update answers
T = TypeVar("T")


@dataclass(frozen=True)
class CaseWorkflow(Generic[Req, View]):
    """The three entry points the API uses on a case process's workflow: its ``run`` (started with
    a ``Req``), its ``opened`` update and its ``view`` query (both answering a ``View``).

    Typed apart from the workflow class (a protocol over a class object cannot express the update
    decorator's type): the workflow's own type stays ``Any``, the request and the view are checked."""

    run: MethodAsyncSingleParam[Any, Req, Any]
    opened: UpdateMethodMultiParam[[Any], View]
    view: MethodSyncOrAsyncNoParam[Any, View]


PENDING = Text("案件暂未应答，本次操作尚未确认生效；请用同一 X-Request-ID 重新提交以获知结果，操作只会生效一次",
               "the case did not answer in time: what you sent is not confirmed yet; send the same request again,"
               " with the same X-Request-ID, to learn the outcome; it is applied at most once")


class _BoundedUpdateWait(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, wait: float) -> None:
        super().__init__(next)
        self._wait = wait

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        async with asyncio.timeout(self._wait):
            return await super().start_workflow_update(input)


class _BoundedUpdates(Interceptor):
    def __init__(self, wait: float) -> None:
        self.wait = wait

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _BoundedUpdateWait(next, self.wait)


def bounded_updates(client: T, wait: float) -> T | Client:
    """The same connection, with every update's wait for its outcome bounded by ``wait`` seconds
    (a stand-in that is not a ``Client``, as some tests pass, is returned as it is)."""
    if not isinstance(client, Client):
        return client
    config = client.config()
    config["interceptors"] = [*config["interceptors"], _BoundedUpdates(wait)]
    return Client(**config)


def actor(principal: Principal, request_id: str) -> Actor:
    """Who sends a message to a workflow: login, role, employee number, and the request."""
    return Actor(user=principal.user, role=principal.role.value, request_id=request_id,
                 employee_id=principal.employee_id, on_behalf_of=principal.on_behalf_of,
                 on_behalf_of_employee_id=principal.on_behalf_of_employee_id)


def refusal_to_http(error: ApplicationError) -> ApiError:
    """The answer to a refusal: the status and code of its ``Refusal`` member, and the member's
    title before the specific message (both answered in the caller's language). A 422 lists the
    refused field, as every 422 of the API does (the body as a whole when the workflow names none).
    A type the table does not know is 409 ``refused``, logged so it gets an entry."""
    details: dict[str, Any] = {}
    for item in error.details or ():
        if isinstance(item, dict):
            details.update(item)
    refusal = Refusal.of(error.type)
    if refusal is None:
        log.warning("refusal of a type not in domain.refusals: %r (%s)", error.type, error.message)
        return ApiError(409, "refused", {"message": error.message, **details})
    if refusal.status == 422:
        return ApiError(422, refusal.code, [{"field": "body", "rule": refusal.code, "message": error.message} | details])
    retry = {"Retry-After": "5"} if refusal.status == 503 else None  # as every 503 of the API
    return ApiError(refusal.status, refusal.code,
                    {"title": Text(refusal.zh, refusal.en), "message": error.message, **details}, headers=retry)


async def update(handle: WorkflowHandle[Any, Any], method: UpdateMethodMultiParam[[Any, Msg], Answer],
                 arg: Msg) -> Answer:
    """Send an update; with the caller's request id as its id, a retried request (same
    ``X-Request-ID``) is applied once and answered with the first result."""
    request_id = getattr(getattr(arg, "actor", None), "request_id", None)
    update_id = f"{getattr(method, '__name__', 'update')}-{request_id}" if request_id else None
    return await _answered(handle, request_id, handle.execute_update(method, arg, id=update_id))


async def start_case(temporal: Client, workflow: CaseWorkflow[Req, View], req: Req, *, id: str, request_id: str,
                     closed: Literal["answer", "conflict"], **options: Any) -> View:
    """Start the case (a retried request reaches the one running) and answer its view once open.

    An id whose case already ran to its end is never started again (a second run of a change that
    was executed would be refused as a second enrollment, say): when the id is the request's own
    (``closed="answer"``, ids allocated per request id), the retried request gets the closed case's
    view; otherwise it is 409 ``case_closed``."""
    try:
        handle = await temporal.start_workflow(
            workflow.run, req, id=id, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE, **options)
    except WorkflowAlreadyStartedError:
        if closed == "answer":
            return await query(temporal, id, workflow.view)
        raise ApiError(409, "case_closed", {"message": Text(f"此案件（{id}）已办结，不能再次发起",
                                                            f"case {id} has already run and closed; it is not"
                                                            " started again")}) from None
    try:
        return await opened(handle, workflow.opened, request_id)
    except ApiError as err:
        if err.error != "case_closed":
            raise
        # The run this request started (or found running) reached its end before its start-up was
        # answered (a retry on its way; a case whose every date is past): answer what it did.
        return await query(temporal, id, workflow.view)


async def opened(handle: WorkflowHandle[Any, Any], method: UpdateMethodMultiParam[[Any], View],
                 request_id: str) -> View:
    """The view of a case just started, once its start-up is recorded (the workflow's ``opened``
    update): a 201 never shows a state the case has not reached, and a read right after it finds
    the case."""
    return await _answered(handle, request_id, handle.execute_update(method))


async def _answered(handle: WorkflowHandle[Any, Any], request_id: str | None, call: Awaitable[T]) -> T:
    try:
        return await call
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the caller went away: not our bound
        raise ApiError(503, "pending", {"message": PENDING, "workflow_id": handle.id, "request_id": request_id},
                       headers={"Retry-After": "5"}) from None
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise refusal_to_http(cause) from None
        raise
    except RPCError as err:
        # A closed case answers NOT_FOUND too ("workflow execution already completed", or not
        # even that): it is 409 case_closed when the case exists, 404 when it never did.
        if err.status == RPCStatusCode.FAILED_PRECONDITION or "completed" in err.message or (
                err.status == RPCStatusCode.NOT_FOUND and await _closed(handle)):
            raise ApiError(409, "case_closed", {"message": Text(f"案件（{handle.id}）已结束，不再接受此操作",
                                                                f"case {handle.id} has already closed")}) from None
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "not_found", Text(f"没有进行中的案件 {handle.id}", f"no running case {handle.id}")) from None
        raise


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING
    except RPCError:
        return False


async def query(client: Client, workflow_id: str, method: MethodSyncOrAsyncNoParam[Any, View]) -> View:
    """A case's answer to a query (its view); 404 when there is no such case, 410 when its subject
    was erased (her key is destroyed: neither the worker replaying it nor this process can read it)."""
    try:
        return await client.get_workflow_handle(workflow_id).query(method)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "not_found", Text(f"找不到案件 {workflow_id}", f"no case {workflow_id}")) from None
        raise
    except KeyDestroyed:
        raise erased(workflow_id) from None
    except WorkflowQueryFailedError:
        # A worker that cannot replay the case: because her key was destroyed (the failure's text
        # is encrypted, so the keyring says), or a fault the operator must see.
        if await _subject_erased(client, workflow_id):
            raise erased(workflow_id) from None
        raise


async def _subject_erased(client: Client, workflow_id: str) -> bool:
    codec = client.data_converter.payload_codec
    keyring = getattr(codec, "keyring", None)
    if keyring is None:
        return False
    subject = await asyncio.to_thread(keyring.subject_of, workflow_id)
    return subject is not None and await asyncio.to_thread(keyring.erased, subject)


def erased(workflow_id: str) -> ApiError:
    return ApiError(410, "erased", Text(f"案件 {workflow_id} 当事人的个人信息已按删除请求销毁，案件内容无法再读取",
                                        f"the person of case {workflow_id} was erased: its content can no longer be read"))
