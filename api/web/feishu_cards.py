"""Feishu's callbacks for hrflow's cards: a button pressed on a task's card, decided once.

Feishu posts the callback to the app's 卡片回调 address; with an Encrypt Key the body is
``{"encrypt": …}`` and the request is signed (``integrations.feishu_crypto``). A callback whose
signature does not hold, whose timestamp is more than ten minutes off, or whose Verification Token
is not ours, is refused (403) with nothing done; the address check (``url_verification``) is
answered with its challenge. A pressed button (``card.action.trigger``) carries the card's link and
choice in its ``value`` and the member's ``user_id``: decided as the link's person
(``decision_links.press``), once however often Feishu repeats it, and answered with a toast and the
card as it now stands.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from api.web.decision_links import press
from api.web.sso import feishu_api
from domain.constant_time import same
from hrflow.settings import Settings
from integrations.feishu import outcome_card
from integrations.feishu_crypto import CallbackRefused, FeishuCrypto

log = logging.getLogger("hrflow.feishu")
PATH = "/integrations/feishu/callback"
FRESH_SECONDS = 600


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    if feishu_api(settings) is None or settings.feishu_verification_token is None or settings.feishu_encrypt_key is None:
        return
    token = settings.feishu_verification_token.get_secret_value()
    crypto = FeishuCrypto(settings.feishu_encrypt_key.get_secret_value())

    @app.post(PATH, include_in_schema=False)
    async def callback(request: Request) -> Response:
        raw = await request.body()
        try:
            event = _opened(crypto, raw, request.headers)
            if not same(str(_token_of(event)), token):
                raise CallbackRefused("Verification Token is not ours")
        except (CallbackRefused, ValueError) as exc:
            log.warning("Feishu callback refused: %s", exc)
            return JSONResponse({"error": "refused"}, status_code=403)
        if event.get("type") == "url_verification":
            return JSONResponse({"challenge": event.get("challenge")})
        if _object(event.get("header")).get("event_type") == "card.action.trigger":
            return JSONResponse(await _pressed(request, _object(event.get("event"))))
        return JSONResponse({})


def _opened(crypto: FeishuCrypto, raw: bytes, headers: Any) -> dict[str, Any]:
    """The callback's event: decrypted, its signature checked (the address check, sent before
    the signature can be, carries only the token)."""
    outer = json.loads(raw)
    if not isinstance(outer, dict) or not isinstance(outer.get("encrypt"), str):
        raise CallbackRefused("not an encrypted callback")
    event = json.loads(crypto.decrypt(outer["encrypt"]))
    if not isinstance(event, dict):
        raise CallbackRefused("not an event")
    if event.get("type") == "url_verification":
        return event
    timestamp = headers.get("x-lark-request-timestamp", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > FRESH_SECONDS:
        raise CallbackRefused(f"timestamp {timestamp!r} is not fresh")
    crypto.verify(timestamp, headers.get("x-lark-request-nonce", ""), raw, headers.get("x-lark-signature", ""))
    return event


def _token_of(event: dict[str, Any]) -> Any:
    return event.get("token") if event.get("type") == "url_verification" else _object(event.get("header")).get("token")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def _pressed(request: Request, event: dict[str, Any]) -> dict[str, Any]:
    value = _object(_object(event.get("action")).get("value"))
    member = str(_object(event.get("operator")).get("user_id") or "")
    link_id, choice = value.get("link"), value.get("choice")
    if not isinstance(link_id, int) or not isinstance(choice, str):
        return {}
    words = await press(request, link_id, member, choice, via="feishu")
    if words is None:
        return {}
    kind = "success" if words in ("已同意", "已驳回") else "warning"
    return {"toast": {"type": kind, "content": words}, "card": {"type": "raw", "data": outcome_card("hrflow 待办", words)}}
