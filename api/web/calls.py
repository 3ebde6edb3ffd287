"""The pages' one way to act: the approval API itself, called in-process as the signed-in person.

A page never writes to the database or signals a workflow on its own: it sends the API the request
a client would (her token, her language, a request id per form so a double click is one request),
and shows the answer. What the API refuses, the page shows refused, in the API's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from api.i18n import language
from api.web.session import Session


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def call(request: Request, session: Session | None, method: str, path: str, *, json: Any = None,
               params: dict[str, Any] | None = None, files: Any = None, data: dict[str, Any] | None = None,
               request_id: str | None = None) -> Answer:
    headers: dict[str, str] = {"accept-language": language(request)}
    if session is not None:
        headers["authorization"] = f"Bearer {session.token}"
    if request_id:
        headers["x-request-id"] = request_id
    transport = getattr(request.app.state, "web_transport", None)
    if transport is None:  # stateless: one per app serves every page's calls
        transport = request.app.state.web_transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hrflow.internal") as client:
        answer = await client.request(method, path, json=json, params=_given(params), files=files, data=data,
                                      headers=headers)
    kind = answer.headers.get("content-type", "")
    body: Any = answer.json() if kind.startswith("application/json") else answer.content
    return Answer(answer.status_code, body, answer.headers)


def _given(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: v for k, v in params.items() if v not in (None, "")} if params else None
