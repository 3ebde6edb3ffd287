"""Codec endpoint for the Temporal UI: authorised operators read decoded payloads, others see
ciphertext. The UI posts ``{"payloads": [...]}`` (protobuf JSON) to ``/codec/decode``.

The dev UI has no login of its own, so an operator signs in once at ``/codec/login?token=...``
(``hrflow token --codec-login`` prints the link); that sets the ``hrflow_token`` cookie which the UI
sends when its codec setting "include cross-origin credentials" is on. A bearer header works too.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from google.protobuf import json_format
from pydantic import BaseModel
from temporalio.api.common.v1 import Payloads

from api.auth import COOKIE, Principal, decode_token, require
from api.errors import ApiError, responses
from api.routes import resource_router
from domain.roles import Role

log = logging.getLogger("hrflow.codec")
router = resource_router(prefix="/codec", tags=["codec"])

# Who may read workflow payloads in clear: operators, HR managers, compliance.
Decoder = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER, Role.COMPLIANCE))]


class PayloadsBody(BaseModel):
    payloads: list[dict[str, Any]]


def _parse(body: PayloadsBody) -> Payloads:
    try:
        return json_format.ParseDict({"payloads": body.payloads}, Payloads())
    except json_format.ParseError as exc:
        raise ApiError(422, "validation_failed", [{"field": "payloads", "rule": "temporal_payload",
                                                   "message": str(exc)}]) from None


@router.post("/decode", responses=responses(400, 401, 403, 422))
async def decode(body: PayloadsBody, request: Request, principal: Decoder) -> dict[str, Any]:
    try:
        decoded = await request.app.state.codec.decode(_parse(body).payloads)
    except Exception as exc:  # noqa: BLE001 - a wrong key or tampered ciphertext fails in the codec's own ways
        raise ApiError(422, "undecodable", f"cannot decode: {type(exc).__name__}") from None
    log.info("payloads decoded for %s (%s), namespace %s", principal.user, principal.role.value,
             request.headers.get("x-namespace"))
    return json_format.MessageToDict(Payloads(payloads=decoded))


@router.post("/encode", responses=responses(400, 401, 403, 422))
async def encode(body: PayloadsBody, request: Request, _: Decoder) -> dict[str, Any]:
    encoded = await request.app.state.codec.encode(_parse(body).payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))


# Errors are JSON like everywhere else; only the sign-in page itself is HTML.
@router.get("/login", responses={200: {"content": {"text/html": {}}}, **responses(401)})
def login(request: Request, token: str) -> HTMLResponse:
    principal = decode_token(request.app.state.jwt_secret, token)
    response = HTMLResponse(
        f"<p>Signed in as {html.escape(principal.user)} ({principal.role.value}) for payload decoding. "
        "Return to the Temporal UI; in its codec settings turn on "
        "'include cross-origin credentials'.</p>"
    )
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=8 * 3600, path="/codec",
                        secure=request.url.scheme == "https")
    return response
