"""The OpenAPI document is a contract: schemathesis sends every operation generated input, valid and
invalid, signed in with a role the operation lets in, and each answer must be no 5xx, a status the
operation declares, and a body and content type matching what it declares for that status.

The requests reach the real app (built like the ``api`` fixture's, on one database for the module,
with a worker running the workflows it starts) in this test's event loop: schemathesis prepares each
request with ``requests`` in a worker thread, and a transport adapter hands it to the app. Hypothesis
is derandomized, so CI sees the same inputs on every run.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import inspect
import io
import pkgutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import urllib3
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

import api.routes
from api.app import create_app
from api.auth import mint_token
from domain.roles import Role
from hrflow.settings import Settings
from tests.badinput.conftest import EMPLOYEE
from tests.conftest import JWT_SECRET

BASE_URL = "http://hrflow.test"
EXAMPLES = 20  # per operation, valid and invalid input together: bounded for CI on two cores

_SETTINGS = Settings(_env_file=None,  # type: ignore[call-arg]
                     database_url="postgresql+psycopg2://unused@127.0.0.1/unused",  # the document needs none
                     jwt_secret=JWT_SECRET, codec_keys={"k": base64.b64encode(bytes(32)).decode()})
CONFIG = schemathesis.Config.from_dict({"checks": {
    "enabled": False,
    "not_a_server_error": {"enabled": True},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
    "response_headers_conformance": {"enabled": True},
}})
SCHEMA = schemathesis.openapi.from_dict(create_app(_SETTINGS).openapi(), config=CONFIG)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _dependencies(dep)


def _allowed_roles(route: APIRoute) -> list[Role]:
    """The roles ``require(...)`` lets through (every role when the route only needs a signed-in user),
    so generated input gets past the door and reaches validation and the handler."""
    for dep in _dependencies(route.dependant):
        if inspect.isfunction(dep.call):
            allowed = inspect.getclosurevars(dep.call).nonlocals.get("allowed")
            if isinstance(allowed, frozenset):
                return sorted(allowed)
    return sorted(Role)


def _routes() -> Iterator[APIRoute]:
    for module in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{module.name}"), "router", None)
        yield from (r for r in getattr(router, "routes", ()) if isinstance(r, APIRoute))


ROLES = {f"{method} {route.path_format}": _allowed_roles(route) for route in _routes() for method in route.methods}


class _AppAdapter(requests.adapters.HTTPAdapter):
    """Sends a request schemathesis prepared to the app, on the event loop that owns the app."""

    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.client, self.loop = client, loop

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        call = self.client.request(request.method or "GET", request.url or "", headers=dict(request.headers),
                                   content=body)
        answer = asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=30)
        raw = urllib3.HTTPResponse(body=io.BytesIO(answer.content), headers=list(answer.headers.multi_items()),
                                   status=answer.status_code, reason=answer.reason_phrase, version=11,
                                   preload_content=False, decode_content=False)
        return self.build_response(request, raw)


def _headers(role: Role) -> dict[str, str]:
    user = EMPLOYEE if role is Role.EMPLOYEE else f"fuzz.{role.value}"
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user=user, role=role)}"}


def _on_file(case: schemathesis.Case) -> None:
    """Point a valid case at the employee on file, so it gets past "no such employee" into the
    handler and the workflow it starts."""
    if isinstance(case.body, dict) and "employee_id" in case.body:
        case.body["employee_id"] = EMPLOYEE
    if "employee_id" in (case.path_parameters or {}):
        case.path_parameters["employee_id"] = EMPLOYEE


@pytest.mark.parametrize("label", sorted(OPERATIONS))
async def test_answers_conform_to_the_openapi_document(label: str, module_stack: httpx.AsyncClient) -> None:
    operation = OPERATIONS[label]
    session = requests.Session()
    session.mount("http://", _AppAdapter(module_stack, asyncio.get_running_loop()))
    cases = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                      operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases, role=st.sampled_from(ROLES[label]), on_file=st.booleans())
    def check(case: schemathesis.Case, role: Role, on_file: bool) -> None:
        if on_file and case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
            _on_file(case)
        case.call_and_validate(base_url=BASE_URL, session=session, headers=_headers(role))

    await asyncio.to_thread(check)


BODY_OPERATIONS = sorted(label for label, operation in OPERATIONS.items() if list(operation.body))
@pytest.mark.parametrize("label", BODY_OPERATIONS)
async def test_unparsable_bodies_get_a_documented_answer(label: str, module_stack: httpx.AsyncClient) -> None:
    """Bytes that are not UTF-8, JSON cut short, a multipart body without parts: a 4xx the operation
    declares, in the shape it declares."""
    operation = OPERATIONS[label]
    [media_type] = [alternative.media_type for alternative in operation.body]
    path = {p.name: "1" for p in operation.path_parameters}  # "1" fits every id, code and number here
    case = operation.Case(path_parameters=path)
    url = BASE_URL + case.formatted_path
    if media_type == "multipart/form-data":
        bodies = [("multipart/form-data; boundary=b", b"--b\r\ngarbage"), ("multipart/form-data", b"--b--")]
    else:
        bodies = [(media_type, b"\xff\xfe{"), (media_type, b'{"a": '), (media_type, b"[" * 100_000)]
    for content_type, body in bodies:
        headers = _headers(ROLES[label][0]) | {"content-type": content_type}
        r = await module_stack.request(operation.method.upper(), url, content=body, headers=headers)
        assert 400 <= r.status_code < 500, (content_type, body[:20], r.status_code, r.text)
        case.validate_response(r)
