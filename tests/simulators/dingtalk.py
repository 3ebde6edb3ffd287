"""DingTalk (钉钉) as hrflow meets it, on a local port: the app token, OAuth 2.0 sign-in, work
notifications and the address book.

The formats are DingTalk's documented ones: ``oapi /gettoken`` (40089 for a wrong AppKey or
AppSecret; 40014 / 42001 for an unknown or expired token), ``/topapi/user/getbyunionid`` (60121:
not a member), ``/topapi/message/corpconversation/asyncsend_v2`` (text and ``action_card``),
``/topapi/v2/department/listsub``, ``/topapi/v2/user/list`` (by ``cursor``) and ``/topapi/v2/user/get``;
``api /v1.0/todo/users/{unionId}/tasks`` (a to-do, and marking it done);
``login.dingtalk.com /oauth2/auth`` (the member confirms; back with ``authCode`` and ``state``);
``api /v1.0/oauth2/userAccessToken`` (HTTP 400 for a wrong, used or old code) and
``/v1.0/contact/users/me``. ``outage`` answers 503.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

CODE_SECONDS = 300


def union_id(userid: str) -> str:
    return "union-" + hashlib.md5(userid.encode()).hexdigest()[:16]


@dataclass
class SimulatedDingTalk:
    app_key: str = "dingabcdefghijklmnop"
    app_secret: str = "dingtalk-app-secret-0123456789"
    agent_id: str = "3001234567"
    members: dict[str, str] = field(default_factory=dict)  # userid -> name
    departments: list[dict[str, Any]] = field(default_factory=list)  # {"dept_id", "name", "parent_id"}
    directory: list[dict[str, Any]] = field(default_factory=list)  # user/list items, with dept_id_list
    token_seconds: int = 7200
    outage: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    todos: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> the to-do
    _tokens: dict[str, float] = field(default_factory=dict)
    _user_tokens: dict[str, str] = field(default_factory=dict)  # user access token -> unionId
    _codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # authCode -> (unionId, issued)

    def cards(self, userid: str) -> list[dict[str, Any]]:
        return [m["action_card"] for m in self.inbox.get(userid, []) if m.get("msgtype") == "action_card"]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def count_and_fail(request: Request, call_next: Any) -> Response:
            if not request.url.path.startswith("/oauth2/"):
                self.calls[request.url.path] += 1
                if self.outage:
                    return Response("service unavailable", status_code=503)
            response: Response = await call_next(request)
            return response

        @app.get("/gettoken")
        async def gettoken(appkey: str = "", appsecret: str = "") -> Response:
            if appkey != self.app_key or appsecret != self.app_secret:
                return _answer(40089, "不合法的appkey或appsecret")
            token = secrets.token_hex(16)
            self._tokens[token] = time.monotonic() + self.token_seconds
            return _answer(0, "ok", access_token=token, expires_in=self.token_seconds)

        @app.post("/topapi/user/getbyunionid")
        async def getbyunionid(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            wanted = (await request.json()).get("unionid")
            userid = next((u for u in self.members if union_id(u) == wanted), None)
            if userid is None:
                return _answer(60121, "找不到该用户")
            return _answer(0, "ok", result={"contact_type": 0, "userid": userid})

        @app.post("/topapi/message/corpconversation/asyncsend_v2")
        async def send(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            body = await request.json()
            if str(body.get("agent_id")) != self.agent_id:
                return _answer(400017, "agent_id不合法")
            msg = body.get("msg") or {}
            if msg.get("msgtype") == "action_card":
                card = msg.get("action_card") or {}
                buttons = card.get("btn_json_list") or []
                if not card.get("title") or not card.get("markdown") or not buttons or any(
                        not b.get("title") or not str(b.get("action_url", "")).startswith("http") for b in buttons):
                    return _answer(40035, "不合法的参数: action_card")
            elif msg.get("msgtype") != "text":
                return _answer(40035, "不合法的参数: msgtype")
            for userid in str(body.get("userid_list", "")).split(","):
                if userid not in self.members:
                    return _answer(33012, f"无效的userid: {userid}")
                self.inbox.setdefault(userid, []).append(msg)
            return _answer(0, "ok", task_id=secrets.randbelow(10**9), request_id=secrets.token_hex(8))

        @app.post("/topapi/v2/user/get")
        async def user_get(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            userid = (await request.json()).get("userid")
            if userid not in self.members:
                return _answer(60121, "找不到该用户")
            return _answer(0, "ok", result={"userid": userid, "unionid": union_id(userid), "name": self.members[userid]})

        @app.post("/v1.0/todo/users/{union}/tasks")
        async def create_todo(union: str, request: Request, operatorId: str = "") -> Response:
            if request.headers.get("x-acs-dingtalk-access-token") not in self._tokens:
                return JSONResponse({"code": "InvalidAuthentication", "message": "不合法的access_token"}, status_code=401)
            body = await request.json()
            if operatorId != union or body.get("executorIds") != [union] or not body.get("subject"):
                return JSONResponse({"code": "invalidParameter", "message": "参数错误"}, status_code=400)
            task_id = "todo-" + secrets.token_hex(6)
            self.todos[task_id] = body | {"union": union, "done": False}
            return JSONResponse({"id": task_id, "subject": body["subject"], "done": False})

        @app.put("/v1.0/todo/users/{union}/tasks/{task_id}")
        async def update_todo(union: str, task_id: str, request: Request, operatorId: str = "") -> Response:
            if request.headers.get("x-acs-dingtalk-access-token") not in self._tokens:
                return JSONResponse({"code": "InvalidAuthentication", "message": "不合法的access_token"}, status_code=401)
            todo = self.todos.get(task_id)
            if todo is None or todo["union"] != union or operatorId != union:
                return JSONResponse({"code": "taskNotExist", "message": "待办不存在"}, status_code=400)
            todo["done"] = bool((await request.json()).get("done"))
            return JSONResponse({"result": True})

        @app.post("/topapi/v2/department/listsub")
        async def listsub(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            parent = (await request.json()).get("dept_id")
            return problem or _answer(0, "ok", result=[d for d in self.departments if d.get("parent_id") == parent])

        @app.post("/topapi/v2/user/list")
        async def user_list(request: Request, access_token: str = "") -> Response:
            problem = self._token_problem(access_token)
            if problem:
                return problem
            body = await request.json()
            members = [u for u in self.directory if body.get("dept_id") in u.get("dept_id_list", [])]
            start, size = int(body.get("cursor") or 0), min(int(body.get("size") or 100), 100)
            more = start + size < len(members)
            return _answer(0, "ok", result={"has_more": more, "next_cursor": start + size if more else None,
                                            "list": members[start:start + size]})

        @app.get("/oauth2/auth")
        async def authorize(redirect_uri: str = "", client_id: str = "", state: str = "",
                            response_type: str = "", scope: str = "") -> Response:
            if client_id != self.app_key or response_type != "code" or scope != "openid" or not redirect_uri:
                return HTMLResponse("<p>参数错误 (bad request)</p>", status_code=400)
            buttons = "".join(f'<button name="userid" value="{html.escape(u)}">{html.escape(n)}（{html.escape(u)}）</button>'
                              for u, n in self.members.items())
            return HTMLResponse(f'<!doctype html><title>钉钉登录</title><h1>钉钉扫码登录</h1><form method="post" '
                                f'action="/oauth2/confirm"><input type="hidden" name="redirect_uri" '
                                f'value="{html.escape(redirect_uri)}"><input type="hidden" name="state" '
                                f'value="{html.escape(state)}">{buttons}</form>')

        @app.post("/oauth2/confirm")
        async def confirm(redirect_uri: str = Form(), state: str = Form(), userid: str = Form()) -> Response:
            code = secrets.token_hex(16)
            self._codes[code] = (union_id(userid), time.monotonic())
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode({'authCode': code, 'state': state})}", 302)

        @app.post("/v1.0/oauth2/userAccessToken")
        async def user_token(request: Request) -> Response:
            body = await request.json()
            if body.get("clientId") != self.app_key or body.get("clientSecret") != self.app_secret:
                return JSONResponse({"code": "invalidClient", "message": "应用不存在或密钥错误"}, status_code=400)
            issued = self._codes.pop(str(body.get("code", "")), None)
            if issued is None or time.monotonic() - issued[1] > CODE_SECONDS or body.get("grantType") != "authorization_code":
                return JSONResponse({"code": "invalidAuthCode", "message": "不合法的临时授权码"}, status_code=400)
            token = secrets.token_hex(16)
            self._user_tokens[token] = issued[0]
            return JSONResponse({"accessToken": token, "refreshToken": secrets.token_hex(16), "expireIn": 7200,
                                 "corpId": "ding-corp-1"})

        @app.get("/v1.0/contact/users/me")
        async def me(request: Request) -> Response:
            union = self._user_tokens.get(request.headers.get("x-acs-dingtalk-access-token", ""))
            if union is None:
                return JSONResponse({"code": "InvalidAuthentication", "message": "不合法的access_token"},
                                    status_code=401)
            return JSONResponse({"nick": "钉钉用户", "unionId": union, "openId": "open-" + union[6:]})

        return app

    def _token_problem(self, token: str) -> Response | None:
        until = self._tokens.get(token)
        if until is None:
            return _answer(40014, "不合法的access_token")
        if time.monotonic() >= until:
            return _answer(42001, "access_token超时")
        return None


def _answer(errcode: int, errmsg: str, **body: Any) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg, **body})
