"""The routes every case process has: read a case, and send it a message as the caller.

A process's router describes its cases once, as a ``CaseRoutes``: the URL prefix, the prefix of its
workflow ids, the workflow's entry points and its view. ``read`` and ``send`` guard the case first
(``guard_case``: 404 for another process's id or for an employee's look at someone else's case, 503
for a decision while the database is away), then query or update the workflow. ``message``
registers the route of one update, ``POST {prefix}/{workflow_id}{path}``: its body (if it has one)
and its caller make the message, and the answer is the case's view, or the refusal in words.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Generic, Literal, TypeVar, overload

import yaml
from fastapi import APIRouter, Request
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from api import workflow_calls
from api.auth import Principal
from api.deps import RequestId, TemporalDep
from api.errors import responses
from api.routes.cases import guard_case
from api.workflow_calls import CaseWorkflow
from domain.actors import Actor
from workflows import search_attributes as sa

View = TypeVar("View", bound=BaseModel)
Body = TypeVar("Body", bound=BaseModel)
Msg = TypeVar("Msg")

Responses = dict[int | str, dict[str, Any]]

# What a message may be answered besides its view: a malformed or refused body, no or the wrong
# caller, no such case, the wrong moment, a refused correction.
MESSAGE_ERRORS = responses(400, 401, 403, 404, 409, 422)


@dataclass(frozen=True)
class CaseRoutes(Generic[View]):
    """One process's cases as its router serves them."""

    router: APIRouter
    prefix: str  # of the URLs, e.g. "/maternity-leaves"
    ids: str  # what its workflow ids start with, e.g. "maternity-leave-"
    what: str  # a case of it, in a 404's words, e.g. "maternity case"
    kind: str  # its CaseKind search attribute, e.g. "maternity"
    workflow: CaseWorkflow[Any, View]
    model: type[View]  # its view, the answer of every message route
    errors: Responses = field(default_factory=lambda: dict(MESSAGE_ERRORS))  # a message route's error answers

    async def start(self, temporal: Client, req: BaseModel, *, id: str, task_queue: str, request_id: str,
                    closed: Literal["answer", "conflict"], stage: str, employee_id: str | None, department: str,
                    province: str = "", summary: str, details: str) -> View:
        """Start one of its cases (``workflow_calls.start_case``), findable in the Temporal UI from
        its first moment by employee, kind, stage, province and department, with the summary and
        details an operator reads there."""
        return await workflow_calls.start_case(
            temporal, self.workflow, req, id=id, task_queue=task_queue, request_id=request_id, closed=closed,
            search_attributes=sa.at_start(employee_id=employee_id, kind=self.kind, stage=stage, province=province,
                                          department=department),
            static_summary=summary, static_details=details)

    async def guard(self, request: Request, principal: Principal, workflow_id: str) -> None:
        await guard_case(request, principal, workflow_id, prefix=self.ids, what=self.what)

    async def read(self, request: Request, temporal: Client, principal: Principal, workflow_id: str) -> View:
        """The case's view, for a caller who may see the case."""
        await self.guard(request, principal, workflow_id)
        return await workflow_calls.query(temporal, workflow_id, self.workflow.view)

    async def send(self, request: Request, temporal: Client, principal: Principal, workflow_id: str,
                   update: UpdateMethodMultiParam[[Any, Msg], View], message: Msg) -> View:
        """Send ``message`` to the case as ``principal`` and answer its view."""
        await self.guard(request, principal, workflow_id)
        return await workflow_calls.update(temporal.get_workflow_handle(workflow_id), update, message)

    @overload
    def message(self, path: str, update: UpdateMethodMultiParam[[Any, Msg], View], who: object,
                build: Callable[[Actor, Body], Msg], body: type[Body], *, name: str | None = None,
                errors: Responses | None = None) -> None: ...

    @overload
    def message(self, path: str, update: UpdateMethodMultiParam[[Any, Msg], View], who: object,
                build: Callable[[Actor, None], Msg], body: None = None, *, name: str | None = None,
                errors: Responses | None = None) -> None: ...

    def message(self, path: str, update: UpdateMethodMultiParam[[Any, Msg], View], who: object,
                build: Callable[[Actor, Any], Msg], body: type[BaseModel] | None = None, *, name: str | None = None,
                errors: Responses | None = None) -> None:
        """Register ``POST {prefix}/{workflow_id}{path}``: the caller (``who``, the annotation of a
        role dependency, ``Annotated[Principal, Depends(require(...))]``) sends the message ``build``
        makes of her actor and the request body (``body``, a model; None for a route without one).
        ``build`` may refuse the body first (a 422 before the case is looked at).

        The route is named after the update (``name`` otherwise): its OpenAPI operation id comes
        from that name; its summary, description and example body from ``api/operations.yaml``
        (an example there is for a body model shared by several messages, ``api.bodies.ReasonIn``:
        what a reason says depends on the message)."""
        route = f"{self.prefix}/{{workflow_id}}{path}"
        documented = operation_docs()[f"{self.router.prefix}{route}"]  # a route without its words fails here
        example: dict[str, Any] | None = documented.get("example")

        async def endpoint(workflow_id: str, request: Request, temporal: Client, request_id: str,
                           principal: Principal, body: BaseModel | None = None) -> View:
            message = build(workflow_calls.actor(principal, request_id), body)
            return await self.send(request, temporal, principal, workflow_id, update, message)

        def parameter(name: str, annotation: object) -> inspect.Parameter:
            return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation)

        # FastAPI reads the request's parts from the signature: the same, in the same order, as a
        # handler written out would have (path, body, request, client, request id, caller).
        parameters = [parameter("workflow_id", str), *([parameter("body", body)] if body is not None else []),
                      parameter("request", Request), parameter("temporal", TemporalDep),
                      parameter("request_id", RequestId), parameter("principal", who)]
        vars(endpoint)["__signature__"] = inspect.Signature(parameters, return_annotation=self.model)
        endpoint.__doc__ = documented["description"]
        self.router.add_api_route(
            route, endpoint, methods=["POST"], response_model=self.model,
            responses=errors if errors is not None else self.errors, summary=documented["summary"],
            openapi_extra=None if example is None else documented_body(example),
            name=name or getattr(update, "__name__", None) or path.strip("/").replace("-", "_"))


@functools.cache
def operation_docs() -> dict[str, dict[str, Any]]:
    """What each message route says of itself (``api/operations.yaml``), by its path."""
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(
        resources.files("api").joinpath("operations.yaml").read_text(encoding="utf-8"))
    return loaded


def documented_body(example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` showing ``example`` as the operation's JSON body (beside its model's schema)."""
    return {"requestBody": {"content": {"application/json": {"example": example}}}}


def carrying(message: Callable[..., Msg]) -> Callable[[Actor, BaseModel], Msg]:
    """Build a ``message`` of the caller's actor and every field of the request body."""
    def build(actor: Actor, body: BaseModel) -> Msg:
        return message(actor=actor, **body.model_dump())

    return build
