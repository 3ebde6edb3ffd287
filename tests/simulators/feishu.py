"""Feishu (飞书) as hrflow meets it, on a local port: the tenant token, OAuth 2.0 sign-in with PKCE,
messages, the address book, and card callbacks.

The formats are Feishu's documented ones: ``/open-apis/auth/v3/tenant_access_token/internal``
(``expire`` seconds of life; 99991663 for an expired or unknown token), ``/open-apis/authen/v1/authorize``
(the member confirms; the browser goes back with ``code`` and ``state``), ``/open-apis/authen/v2/oauth/token``
(HTTP 400 ``invalid_grant``, code 20003, for a wrong, used or old code, another redirect URI or a
``code_verifier`` that does not hash to the challenge), ``/open-apis/authen/v1/user_info``,
``/open-apis/im/v1/messages`` (230013 for a member the app cannot reach; a card updated by
``PATCH`` only with ``update_multi``), ``task/v2`` tasks (one per ``client_token``), ``contact/v3``
pages of departments and members. ``press`` is a member pressing a card's button: ``card.action.trigger``
(schema 2.0), encrypted and signed as Feishu's documentation says (its own implementation here),
posted to the app's callback address.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
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
class SimulatedFeishu:
    app_id: str = "cli_a1b2c3d4e5f60001"
    app_secret: str = "feishu-app-secret-0123456789"
    verification_token: str = "feishu-verification-token"
    encrypt_key: str = "feishu-encrypt-key"
    members: dict[str, str] = field(default_factory=dict)  # user_id -> name
    departments: list[dict[str, Any]] = field(default_factory=list)
    directory: list[dict[str, Any]] = field(default_factory=list)  # contact/v3 user objects
    token_seconds: int = 7200
    outage: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    replaced: dict[str, dict[str, Any]] = field(default_factory=dict)  # message_id -> its card now
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # guid -> the task (task/v2)
    _messages: set[str] = field(default_factory=set)
    _tenant_tokens: dict[str, float] = field(default_factory=dict)
    _user_tokens: dict[str, str] = field(default_factory=dict)  # user access token -> user_id
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cards(self, user_id: str) -> list[dict[str, Any]]:
        return [json.loads(m["content"]) | {"message_id": m["message_id"]} for m in self.inbox.get(user_id, [])
                if m["msg_type"] == "interactive"]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def count_and_fail(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/open-apis/") and "authorize" not in request.url.path:
                self.calls[request.url.path] += 1
                if self.outage:
                    return Response("service unavailable", status_code=503)
            response: Response = await call_next(request)
            return response

        @app.post("/open-apis/auth/v3/tenant_access_token/internal")
        async def tenant_token(request: Request) -> Response:
            body = await request.json()
            if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
                return JSONResponse({"code": 10014, "msg": "app secret invalid"})
            token = "t-" + secrets.token_hex(20)
            self._tenant_tokens[token] = time.monotonic() + self.token_seconds
            return JSONResponse({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": self.token_seconds})

        @app.get("/open-apis/authen/v1/authorize")
        async def authorize(client_id: str = "", redirect_uri: str = "", state: str = "", code_challenge: str = "",
                            code_challenge_method: str = "") -> Response:
            if client_id != self.app_id or not redirect_uri:
                return HTMLResponse("<p>应用不存在 (app not found)</p>", status_code=400)
            buttons = "".join(f'<button name="user_id" value="{html.escape(u)}">{html.escape(n)}（{html.escape(u)}）</button>'
                              for u, n in self.members.items())
            hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in
                             {"redirect_uri": redirect_uri, "state": state, "code_challenge": code_challenge,
                              "code_challenge_method": code_challenge_method}.items())
            return HTMLResponse(f'<!doctype html><title>飞书登录</title><h1>飞书授权登录</h1>'
                                f'<form method="post" action="/open-apis/authen/v1/confirm">{hidden}{buttons}</form>')

        @app.post("/open-apis/authen/v1/confirm")
        async def confirm(redirect_uri: str = Form(), state: str = Form(), code_challenge: str = Form(""),
                          code_challenge_method: str = Form(""), user_id: str = Form()) -> Response:
            code = secrets.token_hex(16)
            self._codes[code] = {"user_id": user_id, "redirect_uri": redirect_uri, "challenge": code_challenge,
                                 "method": code_challenge_method, "at": time.monotonic()}
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode({'code': code, 'state': state})}", 302)

        @app.post("/open-apis/authen/v2/oauth/token")
        async def user_token(request: Request) -> Response:
            body = await request.json()
            if body.get("client_id") != self.app_id or body.get("client_secret") != self.app_secret:
                return JSONResponse({"code": 20002, "error": "invalid_client"}, status_code=400)
            issued = self._codes.pop(str(body.get("code", "")), None)
            verifier = str(body.get("code_verifier", ""))
            hashed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (issued is None or time.monotonic() - issued["at"] > CODE_SECONDS
                    or issued["redirect_uri"] != body.get("redirect_uri")
                    or (issued["challenge"] and (issued["method"] != "S256" or hashed != issued["challenge"]))):
                return JSONResponse({"code": 20003, "error": "invalid_grant",
                                     "error_description": "the code is invalid"}, status_code=400)
            token = "u-" + secrets.token_hex(20)
            self._user_tokens[token] = issued["user_id"]
            return JSONResponse({"code": 0, "access_token": token, "expires_in": 7200, "token_type": "Bearer"})

        @app.get("/open-apis/authen/v1/user_info")
        async def user_info(request: Request) -> Response:
            user_id = self._user_tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
            if user_id is None:
                return JSONResponse({"code": 99991668, "msg": "Invalid access token"})
            data = {"name": self.members.get(user_id, "访客"), "open_id": "ou_" + hashlib.md5(user_id.encode()).hexdigest(),
                    "tenant_key": "tenant-1"} | ({"user_id": user_id} if user_id in self.members else {})
            return JSONResponse({"code": 0, "msg": "success", "data": data})

        @app.post("/open-apis/im/v1/messages")
        async def send(request: Request, receive_id_type: str = "") -> Response:
            problem = self._tenant_problem(request)
            if problem:
                return problem
            body = await request.json()
            if receive_id_type != "user_id" or body.get("msg_type") not in ("text", "interactive"):
                return JSONResponse({"code": 230001, "msg": "invalid request"})
            json.loads(body["content"])  # content is a JSON string
            if body.get("receive_id") not in self.members:
                return JSONResponse({"code": 230013, "msg": "Bot has NO availability to this user."})
            repeat = next((m for m in self.inbox.get(body["receive_id"], []) if body.get("uuid")
                           and m.get("uuid") == body["uuid"]), None)
            if repeat is not None:  # the same uuid within the hour: the same message
                return JSONResponse({"code": 0, "msg": "success", "data": {"message_id": repeat["message_id"]}})
            self.inbox.setdefault(body["receive_id"], []).append(body)
            message_id = "om_" + secrets.token_hex(8)
            body["message_id"] = message_id
            self._messages.add(message_id)
            return JSONResponse({"code": 0, "msg": "success", "data": {"message_id": message_id}})

        @app.patch("/open-apis/im/v1/messages/{message_id}")
        async def update(message_id: str, request: Request) -> Response:
            problem = self._tenant_problem(request)
            if problem:
                return problem
            if message_id not in self._messages:
                return JSONResponse({"code": 230011, "msg": "The message is not found."})
            card = json.loads((await request.json())["content"])
            if not card.get("config", {}).get("update_multi"):
                return JSONResponse({"code": 230099, "msg": "only cards with update_multi can be updated"})
            self.replaced[message_id] = card
            return JSONResponse({"code": 0, "msg": "success"})

        @app.post("/open-apis/task/v2/tasks")
        async def create_task(request: Request, user_id_type: str = "") -> Response:
            problem = self._tenant_problem(request)
            if problem:
                return problem
            body = await request.json()
            members = body.get("members") or []
            if user_id_type != "user_id" or not body.get("summary") or any(m.get("id") not in self.members for m in members):
                return JSONResponse({"code": 1470400, "msg": "invalid task"})
            same = next((g for g, t in self.tasks.items() if body.get("client_token") and
                         t.get("client_token") == body.get("client_token")), None)  # a repeat is the same task
            guid = same or secrets.token_hex(8)
            self.tasks.setdefault(guid, body | {"completed_at": "0"})
            return JSONResponse({"code": 0, "msg": "success", "data": {"task": {"guid": guid}}})

        @app.patch("/open-apis/task/v2/tasks/{guid}")
        async def update_task(guid: str, request: Request) -> Response:
            problem = self._tenant_problem(request)
            if problem:
                return problem
            body = await request.json()
            if guid not in self.tasks or body.get("update_fields") != ["completed_at"]:
                return JSONResponse({"code": 1470404, "msg": "task not found"})
            self.tasks[guid]["completed_at"] = body["task"]["completed_at"]
            return JSONResponse({"code": 0, "msg": "success"})

        @app.get("/open-apis/contact/v3/departments/0/children")
        async def departments(request: Request, page_token: str = "", page_size: int = 50) -> Response:
            return self._tenant_problem(request) or self._page(self.departments, page_token, page_size)

        @app.get("/open-apis/contact/v3/users/find_by_department")
        async def users(request: Request, page_token: str = "", page_size: int = 50) -> Response:
            return self._tenant_problem(request) or self._page(self.directory, page_token, page_size)

        return app

    def press(self, callback_url: str, user_id: str, value: dict[str, Any], *, token: str | None = None,
              timestamp: int | None = None, tamper: bool = False) -> httpx.Response:
        """The member presses the button: Feishu's ``card.action.trigger`` callback."""
        event = {"schema": "2.0", "header": {
            "event_id": secrets.token_hex(16), "token": token or self.verification_token,
            "create_time": str(int(time.time() * 1000)), "event_type": "card.action.trigger", "tenant_key": "tenant-1",
            "app_id": self.app_id}, "event": {
            "operator": {"tenant_key": "tenant-1", "user_id": user_id, "open_id": "ou_x"},
            "token": "c-" + secrets.token_hex(8), "action": {"value": value, "tag": "button"},
            "host": "im_message", "context": {"open_message_id": "om_x", "open_chat_id": "oc_x"}}}
        body = json.dumps({"encrypt": self._encrypt(json.dumps(event))}).encode()
        stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(8)
        signed = hashlib.sha256((stamp + nonce + self.encrypt_key).encode() + body).hexdigest()
        headers = {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
                   "X-Lark-Signature": signed, "Content-Type": "application/json"}
        return httpx.post(callback_url, content=body.replace(b'"}', b'A"}') if tamper else body,
                          headers=headers, timeout=30)

    def url_check(self, callback_url: str, *, token: str | None = None) -> httpx.Response:
        body = {"challenge": secrets.token_hex(8), "token": token or self.verification_token, "type": "url_verification"}
        return httpx.post(callback_url, json={"encrypt": self._encrypt(json.dumps(body))}, timeout=10)

    def _encrypt(self, message: str) -> str:
        key = hashlib.sha256(self.encrypt_key.encode()).digest()
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(message.encode()) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()

    def _tenant_problem(self, request: Request) -> Response | None:
        until = self._tenant_tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if until is None or time.monotonic() >= until:
            return JSONResponse({"code": 99991663, "msg": "Invalid access token for authorization."})
        return None

    def _page(self, items: list[dict[str, Any]], page_token: str, size: int) -> Response:
        start = int(page_token) if page_token.isdigit() else 0
        more = start + size < len(items)
        return JSONResponse({"code": 0, "msg": "success", "data": {
            "items": items[start:start + size], "has_more": more, **({"page_token": str(start + size)} if more else {})}})
