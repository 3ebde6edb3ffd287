"""WeCom's callbacks for hrflow's cards: a button pressed on a task's card, decided once.

WeCom posts ``<xml><Encrypt>…</Encrypt></xml>`` to the application's callback address with
``msg_signature``, ``timestamp`` and ``nonce``; it checks the address once with a GET carrying an
``echostr`` to decrypt and echo. A callback whose signature, key or corporation does not hold, or
whose timestamp is more than ten minutes off, is refused (403) with nothing done. A pressed button
(``template_card_event``) names the card's ``task_id`` (the decision link behind it), the member
and the button's key: the member must be the link's person, and the decision is the link's
(``decision_links.decide``), so it is the API's decision with the API's rules, made once however
often WeCom repeats the callback (it does, when an answer takes over five seconds). The card is
then updated with the outcome through the event's ``ResponseCode``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from defusedxml import ElementTree
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from api.web.decision_links import press
from api.web.sso import wecom_api
from hrflow.settings import Settings
from integrations.wecom import WeComError, WeComMessages
from integrations.wecom_crypto import CallbackRefused, WeComCrypto

log = logging.getLogger("hrflow.wecom")
PATH = "/integrations/wecom/callback"
FRESH_SECONDS = 600


def install(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    api = wecom_api(settings)
    if api is None or settings.wecom_callback_token is None or settings.wecom_encoding_aes_key is None:
        return
    crypto = WeComCrypto(settings.wecom_callback_token.get_secret_value(),
                         settings.wecom_encoding_aes_key.get_secret_value(), api.corp_id)
    messages = WeComMessages(api)

    @app.get(PATH, include_in_schema=False)
    async def verify_address(msg_signature: str = "", timestamp: str = "", nonce: str = "",
                             echostr: str = "") -> Response:
        try:
            return PlainTextResponse(crypto.opened(msg_signature, timestamp, nonce, echostr))
        except CallbackRefused as exc:
            log.warning("WeCom address check refused: %s", exc)
            return PlainTextResponse("refused", status_code=403)

    @app.post(PATH, include_in_schema=False)
    async def callback(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "") -> Response:
        try:
            if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > FRESH_SECONDS:
                raise CallbackRefused(f"timestamp {timestamp!r} is not fresh")
            envelope = ElementTree.fromstring(await request.body())
            event = ElementTree.fromstring(crypto.opened(msg_signature, timestamp, nonce,
                                                         envelope.findtext("Encrypt") or ""))
        except (CallbackRefused, ElementTree.ParseError, ValueError) as exc:
            log.warning("WeCom callback refused: %s", exc)
            return PlainTextResponse("refused", status_code=403)
        if event.findtext("MsgType") == "event" and event.findtext("Event") == "template_card_event":
            await _pressed(request, messages, {child.tag: child.text or "" for child in event})
        return PlainTextResponse("")  # WeCom takes an empty answer as received


async def _pressed(request: Request, messages: WeComMessages, event: dict[str, str]) -> None:
    task_id, code = event.get("TaskId", ""), event.get("ResponseCode", "")
    raw_id = task_id.removeprefix("hrflow-")
    if not task_id.startswith("hrflow-") or not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18:
        return
    words = await press(request, int(raw_id), event.get("FromUserName", ""), event.get("EventKey", ""), via="wecom")
    if words is not None:
        await _update(messages, event.get("FromUserName", ""), code, words)


async def _update(messages: WeComMessages, member: str, code: str, words: str) -> None:
    if not code:
        return
    try:
        await asyncio.to_thread(messages.update_card, member, code, words)
    except WeComError as exc:  # the decision stands; only the card's words are late
        log.warning("WeCom card update failed: %s", exc)
