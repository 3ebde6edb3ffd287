"""WeCom (企业微信) as hrflow meets it, on a local port: web login and the server API.

The formats are WeCom's documented ones: ``/wwlogin/sso/login`` (the member confirms, the browser
goes back to ``redirect_uri?code=&state=``), ``/cgi-bin/gettoken`` (40013 a wrong corpid, 40001 a
wrong secret; ``expires_in`` seconds of life), ``/cgi-bin/auth/getuserinfo`` (42001 an expired
token, 40014 an unknown one, 40029 a code that is wrong, used or older than five minutes; a
visitor outside the corporation gets an ``openid`` only), ``/cgi-bin/message/send`` (text and
``template_card`` messages, kept per member; 81013 for a member WeCom does not know),
``/cgi-bin/message/update_template_card`` (a ``ResponseCode`` works once). ``press`` is a member
pressing a card's button: WeCom's callback, encrypted and signed the way WeCom's documentation says
(its own implementation here, not hrflow's), posted to the application's callback address.
``outage`` makes every API call a 503; ``calls`` counts the calls by path.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import secrets
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

CODE_SECONDS = 300


@dataclass
class SimulatedWeCom:
    corp_id: str = "ww0123456789abcdef"
    agent_id: str = "1000002"
    secret: str = "wecom-app-secret-0123456789"
    members: dict[str, str] = field(default_factory=dict)  # userid -> name, shown on the login page
    contacts_secret: str = "wecom-contacts-secret-0123456789"  # 通讯录同步's own secret
    departments: list[dict[str, Any]] = field(default_factory=list)  # as /cgi-bin/department/list gives them
    directory: list[dict[str, Any]] = field(default_factory=list)  # members as /cgi-bin/user/list gives them
    callback_token: str = "wecom-callback-token"
    encoding_aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom gives
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # userid -> messages received
    card_updates: list[dict[str, Any]] = field(default_factory=list)
    _response_codes: dict[str, str] = field(default_factory=dict)  # code -> userid, until used
    token_seconds: int = 7200
    outage: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    _contacts_tokens: set[str] = field(default_factory=set)  # tokens of the contacts secret
    _codes: dict[str, tuple[str | None, float]] = field(default_factory=dict)  # code -> (userid, issued)

    def issue_code(self, userid: str | None) -> str:
        """A login code, as WeCom hands one to the browser (None: a visitor outside the corporation)."""
        code = secrets.token_hex(16)
        self._codes[code] = (userid, time.monotonic())
        return code

    def expire_tokens(self) -> None:
        self._tokens = {t: 0.0 for t in self._tokens}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def count_and_fail(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/cgi-bin/"):
                self.calls[request.url.path] += 1
                if self.outage:
                    return Response("service unavailable", status_code=503)
            response: Response = await call_next(request)
            return response

        @app.get("/wwlogin/sso/login")
        async def login_page(login_type: str = "", appid: str = "", agentid: str = "", redirect_uri: str = "",
                             state: str = "") -> Response:
            if login_type != "CorpApp" or appid != self.corp_id or agentid != self.agent_id or not redirect_uri:
                return HTMLResponse("<p>参数错误：appid 或 agentid 不正确</p>", status_code=400)
            buttons = "".join(
                f'<button name="userid" value="{html.escape(u)}">{html.escape(n)}（{html.escape(u)}）</button>'
                for u, n in self.members.items())
            return HTMLResponse(
                f'<!doctype html><title>企业微信登录</title><h1>企业微信扫码登录</h1><form method="post" '
                f'action="/wwlogin/sso/confirm"><input type="hidden" name="redirect_uri" '
                f'value="{html.escape(redirect_uri)}"><input type="hidden" name="state" value="{html.escape(state)}">'
                f'{buttons}</form>')

        @app.post("/wwlogin/sso/confirm")
        async def confirm(redirect_uri: str = Form(), state: str = Form(), userid: str = Form()) -> Response:
            code = self.issue_code(userid if userid in self.members else None)
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode({'code': code, 'state': state})}", 302)

        @app.get("/cgi-bin/gettoken")
        async def gettoken(corpid: str = "", corpsecret: str = "") -> Response:
            if corpid != self.corp_id:
                return _answer(40013, "invalid corpid")
            if corpsecret not in (self.secret, self.contacts_secret):
                return _answer(40001, "invalid credential")
            token = secrets.token_hex(32)
            self._tokens[token] = time.monotonic() + self.token_seconds
            if corpsecret == self.contacts_secret:
                self._contacts_tokens.add(token)
            return _answer(0, "ok", access_token=token, expires_in=self.token_seconds)

        @app.get("/cgi-bin/auth/getuserinfo")
        async def getuserinfo(access_token: str = "", code: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            issued = self._codes.pop(code, None)
            if issued is None or time.monotonic() - issued[1] > CODE_SECONDS:
                return _answer(40029, "invalid code")
            userid = issued[0]
            if userid is None:
                return _answer(0, "ok", openid="oVISITOR" + secrets.token_hex(8), external_userid="")
            return _answer(0, "ok", userid=userid, user_ticket=secrets.token_hex(16))

        @app.get("/cgi-bin/department/list")
        async def department_list(access_token: str = "") -> Response:
            problem = self._token_problem(access_token) or self._contacts_problem(access_token)
            return problem or _answer(0, "ok", department=self.departments)

        @app.get("/cgi-bin/user/list")
        async def user_list(access_token: str = "", department_id: int = 0, fetch_child: int = 0) -> Response:
            problem = self._token_problem(access_token) or self._contacts_problem(access_token)
            if problem:
                return problem
            if department_id not in {d["id"] for d in self.departments}:
                return _answer(60003, "department not found")
            below = {department_id}
            while fetch_child:
                more = {d["id"] for d in self.departments if d.get("parentid") in below} - below
                if not more:
                    break
                below |= more
            return _answer(0, "ok", userlist=[u for u in self.directory if set(u.get("department", [])) & below])

        @app.post("/cgi-bin/message/send")
        async def send(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            body = await request.json()
            if str(body.get("agentid")) != self.agent_id:
                return _answer(40056, "invalid agentid")
            if body.get("msgtype") not in ("text", "template_card"):
                return _answer(40008, "invalid message type")
            if body["msgtype"] == "template_card":
                card = body.get("template_card") or {}
                if card.get("card_type") != "button_interaction" or not card.get("task_id") or not card.get("button_list"):
                    return _answer(40058, "invalid template_card")
            userid = str(body.get("touser", ""))
            if userid not in self.members:
                return _answer(81013, "user & party & tag all invalid")
            self.inbox.setdefault(userid, []).append(body)
            return _answer(0, "ok", invaliduser="", msgid=secrets.token_hex(8))

        @app.post("/cgi-bin/message/update_template_card")
        async def update_card(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            body = await request.json()
            owner = self._response_codes.pop(str(body.get("response_code", "")), None)
            if owner is None or owner not in body.get("userids", []):
                return _answer(40058, "invalid response_code")
            self.card_updates.append(body)
            return _answer(0, "ok", invaliduser=[])

        return app

    def cards(self, userid: str) -> list[dict[str, Any]]:
        return [m["template_card"] for m in self.inbox.get(userid, []) if m.get("msgtype") == "template_card"]

    def callback_body(self, userid: str, task_id: str, key: str, *, timestamp: int | None = None,
                      token: str | None = None) -> tuple[dict[str, str], bytes]:
        """A ``template_card_event`` as WeCom posts it: the query and the XML body."""
        code = secrets.token_hex(12)
        self._response_codes[code] = userid
        created = int(time.time()) if timestamp is None else timestamp
        event = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName><![CDATA[{userid}]]>"
                 f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                 f"<Event><![CDATA[template_card_event]]></Event><AgentID>{self.agent_id}</AgentID>"
                 f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
                 f"<ResponseCode><![CDATA[{code}]]></ResponseCode><EventKey><![CDATA[{key}]]></EventKey></xml>")
        encrypted = self._encrypt(event)
        nonce = secrets.token_hex(5)
        sign = hashlib.sha1("".join(sorted([token or self.callback_token, str(created), nonce, encrypted])).encode())
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><AgentID><![CDATA[{self.agent_id}]]>"
                f"</AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode()
        return {"msg_signature": sign.hexdigest(), "timestamp": str(created), "nonce": nonce}, body

    def press(self, callback_url: str, userid: str, task_id: str, key: str, *, repeat: int = 1) -> list[int]:
        """The member presses the button; WeCom posts the callback (``repeat`` times, as it does
        when an answer is slow). The statuses hrflow answered."""
        query, body = self.callback_body(userid, task_id, key)
        return [httpx.post(callback_url, params=query, content=body, timeout=30).status_code for _ in range(repeat)]

    def _encrypt(self, message: str) -> str:
        key = base64.b64decode(self.encoding_aes_key + "=")
        raw = message.encode()
        plain = os.urandom(16) + struct.pack("!I", len(raw)) + raw + self.corp_id.encode()
        padder = padding.PKCS7(256).padder()  # WeCom pads to 32 bytes
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def _contacts_problem(self, token: str) -> Response | None:
        return None if token in self._contacts_tokens else _answer(60011, "no privilege to access/modify contact")

    def _token_problem(self, token: str) -> Response | None:
        until = self._tokens.get(token)
        if until is None:
            return _answer(40014, "invalid access_token")
        if time.monotonic() >= until:
            return _answer(42001, "access_token expired")
        return None


def _answer(errcode: int, errmsg: str, **body: Any) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg, **body})
