"""Codec endpoint for the Temporal UI: authorised operators read decoded payloads, others see
ciphertext. The UI posts ``{"payloads": [...]}`` (protobuf JSON) to ``/codec/decode``.

The dev UI has no login of its own, so an operator signs in once at ``/codec/login?token=...``
(``hrflow token --codec-login`` prints the link); that sets the ``hrflow_token`` cookie which the UI
sends when its codec setting "include cross-origin credentials" is on. A bearer header works too.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from api.auth import COOKIE, Principal, decode_token, require
from api.errors import ApiError, responses
from api.routes import resource_router
from db.person_keys import KeyDestroyed
from domain.roles import Role

log = logging.getLogger("hrflow.codec")
router = resource_router(prefix="/codec", tags=["codec"])

# Who may read workflow payloads in clear: operators, HR managers, compliance.
Decoder = Annotated[Principal, Depends(require(Role.ADMIN, Role.HR_MANAGER, Role.COMPLIANCE))]


class PayloadsBody(BaseModel):
    """Temporal payloads in protobuf JSON, as the Temporal UI posts them (metadata and data base64)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJlbXBsb3llZV9pZCI6ICJFMTAwMSJ9"}]},
    ]})

    payloads: list[dict[str, Any]]


def _parse(body: PayloadsBody) -> Payloads:
    try:
        return json_format.ParseDict({"payloads": body.payloads}, Payloads())
    except json_format.ParseError as exc:
        raise ApiError(422, "validation_failed", [{"field": "payloads", "rule": "temporal_payload",
                                                   "message": str(exc)}]) from None


@router.post("/decode", responses=responses(400, 401, 403, 422), summary="解密工作流载荷 (Decode payloads)")
async def decode(body: PayloadsBody, request: Request, principal: Decoder) -> dict[str, Any]:
    """Temporal UI 的编解码端点：把加密的载荷解密为明文，每次解密都记入日志（谁、哪个命名空间）。令牌可放在Authorization
    头或 /codec/login 设置的 Cookie 中。仅管理员、人事经理和合规可调用；不是 Temporal 载荷、密钥不符或密文被篡改时答
    422。

    The Temporal UI's codec endpoint: encrypted payloads decoded to clear text, each decoding logged
    (who, which namespace). The token comes in the Authorization header or the cookie /codec/login
    sets. Admins, HR managers and compliance only; not Temporal payloads, a wrong key or tampered
    ciphertext is 422."""
    try:
        decoded = [await _decode_one(request.app.state.codec, p) for p in _parse(body).payloads]
    except Exception as exc:  # noqa: BLE001 - a wrong key or tampered ciphertext fails in the codec's own ways
        raise ApiError(422, "undecodable", f"无法解码：{type(exc).__name__} (cannot decode: {type(exc).__name__})") from None
    log.info("payloads decoded for %s (%s), namespace %s", principal.user, principal.role.value,
             request.headers.get("x-namespace"))
    return json_format.MessageToDict(Payloads(payloads=decoded))


# What the UI shows for a payload whose owner was erased: her key is gone, and with it the content.
ERASED = Payload(metadata={"encoding": b"json/plain"},
                 data=json.dumps("〔已删除：个人信息已按删除请求销毁〕 (erased: destroyed on the person's erasure request)",
                                 ensure_ascii=False).encode())


async def _decode_one(codec: PayloadCodec, payload: Payload) -> Payload:
    try:
        [decoded] = await codec.decode([payload])
    except KeyDestroyed:
        return ERASED
    return decoded


@router.post("/encode", responses=responses(400, 401, 403, 422), summary="加密工作流载荷 (Encode payloads)")
async def encode(body: PayloadsBody, request: Request, _: Decoder) -> dict[str, Any]:
    """用当前密钥加密明文载荷，如 Temporal UI 发信号或启动工作流时所需。仅管理员、人事经理和合规可调用；不是 Temporal
    载荷时答 422。

    Clear-text payloads encrypted with the active key, as the Temporal UI needs them to send a signal
    or start a workflow. Admins, HR managers and compliance only; not Temporal payloads is 422."""
    encoded = await request.app.state.codec.encode(_parse(body).payloads)
    return json_format.MessageToDict(Payloads(payloads=encoded))


# Errors are JSON like everywhere else; only the sign-in page itself is HTML.
@router.get("/login", responses={200: {"content": {"text/html": {}}}, **responses(401)},
            summary="为 Temporal UI 登录编解码 (Sign the Temporal UI in for decoding)")
def login(request: Request, token: str) -> HTMLResponse:
    """用查询参数中的令牌（`hrflow token --codec-login` 打印此链接）设置仅限 /codec 的 httponly Cookie，有效 8 小时，
    Temporal UI 打开“include cross-origin credentials”后会带上它。令牌无效答 401；能否解密仍由角色决定。

    The token in the query (``hrflow token --codec-login`` prints the link) becomes an httponly cookie
    for /codec only, for 8 hours, which the Temporal UI sends with "include cross-origin credentials"
    on. An invalid token is 401; whether payloads decode still depends on the role."""
    principal = decode_token(request.app.state.jwt_secret, token)
    who = f"{html.escape(principal.user)}（{principal.role.value}）"
    response = HTMLResponse(
        f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>解密登录 (Decoding sign-in)</title>'
        f"<p>已以 {who} 登录，可在 Temporal UI 中解密载荷。请回到 Temporal UI，在编解码设置中打开"
        "“Include cross-origin credentials”，按 Apply 后刷新页面。</p>"
        f'<p lang="en">Signed in as {who} for payload decoding. Return to the Temporal UI; in its codec'
        " settings turn on 'Include cross-origin credentials', press Apply, then reload the page.</p></html>"
    )
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=8 * 3600, path="/codec",
                        secure=request.url.scheme == "https")
    return response
