"""What a person can do, read off the API's own routes.

Each process's routes say everything a page needs: ``POST /transfers`` starts one (its body model is
the form), ``POST /transfers/{workflow_id}/review`` is an action on a case, and the role dependency
(``api.auth.require``) says who may call it. So the pages offer a person exactly the routes her role
may call, and a route added to the API shows up on the case page without a page of its own.
A decision an approver route assigns (``api.task_actions.signatory``) is offered, besides those
roles, to whoever the case's current step names: a line manager whatever her role.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from api.processes import PROCESSES, Process
from domain.approval_routes import Signer
from domain.roles import Role


@dataclass(frozen=True)
class Action:
    name: str  # the route's name: "approve"
    path: str  # "/si-changes/{workflow_id}/approve"
    roles: frozenset[Role]
    routed: bool  # also offered to the current step's approvers (``signs_now``)
    body: type[BaseModel] | None
    summary: str
    description: str

    def url(self, workflow_id: str) -> str:
        return self.path.replace("{workflow_id}", workflow_id)

    @property
    def slug(self) -> str:
        """The path after the case's id: "approve", "approval-return" (maternity's task action, not
        her return to work, "return")."""
        return self.path.rstrip("/").split("{workflow_id}/", 1)[-1].replace("/", "-")


def _roles(dependant: Dependant) -> frozenset[Role] | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, "roles", None)
        if isinstance(found, frozenset):
            return found
        inner = _roles(dep)
        if inner is not None:
            return inner
    return None


def _routed(dependant: Dependant) -> bool:
    return any(getattr(dep.call, "routed", False) or _routed(dep) for dep in dependant.dependencies)


def _body(route: APIRoute) -> type[BaseModel] | None:
    if route.body_field is None:
        return None
    annotation: Any = route.body_field.field_info.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _action(route: APIRoute) -> Action:
    doc = (route.description or "").strip()
    return Action(name=route.name, path=route.path, roles=_roles(route.dependant) or frozenset(),
                  routed=_routed(route.dependant),
                  body=_body(route), summary=route.summary or route.name.replace("_", " "), description=doc)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (which FastAPI keeps as routers of their own)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _catalogue(app: FastAPI) -> tuple[dict[str, Action], dict[str, list[Action]]]:
    """Read once per app, on first use (every route is registered by then)."""
    known: tuple[dict[str, Action], dict[str, list[Action]]] | None = getattr(app.state, "web_actions", None)
    if known is not None:
        return known
    starts: dict[str, Action] = {}
    on_cases: dict[str, list[Action]] = {p.kind: [] for p in PROCESSES}
    for route in _api_routes(app.routes):
        if "POST" not in (route.methods or set()):
            continue
        for p in PROCESSES:
            if route.path == p.api:
                starts[p.kind] = _action(route)
            elif route.path.startswith(f"{p.api}/{{workflow_id}}/") and route.path.count("{") == 1:
                on_cases[p.kind].append(_action(route))
    app.state.web_actions = (starts, on_cases)
    return starts, on_cases


def start_action(app: FastAPI, kind: str) -> Action | None:
    return _catalogue(app)[0].get(kind)


def startable(app: FastAPI, role: Role) -> list[tuple[Process, Action]]:
    starts = _catalogue(app)[0]
    return [(p, starts[p.kind]) for p in PROCESSES
            if p.kind in starts and starts[p.kind].body is not None and role in starts[p.kind].roles]


def case_actions(app: FastAPI, kind: str, role: Role, *, signer: bool = False) -> list[Action]:
    """What ``role`` may do on a case of ``kind``; ``signer``: she is an approver of its current step."""
    return [a for a in _catalogue(app)[1].get(kind, []) if role in a.roles or (signer and a.routed)]


def signs_now(view: Any, user: str, role: Role) -> bool:
    """Does the case's approver route (its ``approval`` view) await her signature on its current step?
    The workflow decides; this only says whether to offer her the decision."""
    approval = view.get("approval") if isinstance(view, dict) else None
    if not approval or approval.get("current") is None:
        return False
    steps = approval["steps"]
    if any(user in s["signed_by"] for s in steps):
        return False  # one person signs once
    return any(Signer.model_validate(s).admits(user, role.value, None) for s in steps[approval["current"]]["signers"])


def case_action(app: FastAPI, kind: str, slug: str) -> Action | None:
    return next((a for a in _catalogue(app)[1].get(kind, []) if a.slug == slug), None)
