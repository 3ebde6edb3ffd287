"""DingTalk (钉钉) through its open platform: the app's token, sign-in, work notifications, contacts.

The shapes are DingTalk's documented ones. ``GET oapi /gettoken?appkey&appsecret`` gives an
``access_token`` for ``expires_in`` seconds; it is kept, renewed five minutes early, and fetched
anew when DingTalk says it is invalid or expired (40014, 42001). ``oapi`` answers JSON with
``errcode`` (0 is success) and ``errmsg``; ``api.dingtalk.com`` (v1.0) answers HTTP 4xx with
``code`` and ``message`` on a refusal. Sign-in is DingTalk's OAuth 2.0: ``login.dingtalk.com/oauth2/auth``,
back with ``authCode``, exchanged at ``/v1.0/oauth2/userAccessToken``; ``/v1.0/contact/users/me``
names her ``unionId``, which ``/topapi/user/getbyunionid`` turns into her ``userid`` in the
corporation (60121: not a member). Task notices go as work notifications (``action_card``) whose
buttons open the task's decision link, each with a to-do in her DingTalk list, done when the task is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from integrations.app_token import BUSY, AppToken, PlatformBusy, coded_answer, json_answer
from integrations.hr_master import MasterRecord, MasterSnapshot, MasterUnavailable
from integrations.identity import NO_LOGIN, REFUSED, UNAVAILABLE, Attempt, SignInProblem, Vouched

log = logging.getLogger("hrflow.dingtalk")
TOKEN_EXPIRED = {40014, 42001}
NOT_A_MEMBER = 60121


class DingTalkError(Exception):
    def __init__(self, code: int | str, message: str) -> None:
        super().__init__(f"DingTalk {code}: {message}")
        self.code = code
        self.message = message


@dataclass
class DingTalkApi:
    """One DingTalk app (AppKey, AppSecret, its AgentId for notifications). Blocking, thread-safe."""

    app_key: str
    app_secret: str
    agent_id: str = ""
    oapi_base: str = "https://oapi.dingtalk.com"
    api_base: str = "https://api.dingtalk.com"
    timeout: float = 10.0
    _token: AppToken = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._token = AppToken(self._new_token)

    def call(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``POST oapi <path>?access_token=`` (a GET when there is no body)."""
        return self._token.call(
            lambda token: self._oapi("POST" if body is not None else "GET", path, {"access_token": token}, body),
            expired=lambda exc: isinstance(exc, DingTalkError) and exc.code in TOKEN_EXPIRED,
            busy=lambda exc: isinstance(exc, DingTalkError) and exc.code == BUSY)

    def token(self) -> str:
        """The app's access token (the same one ``oapi`` and ``api.dingtalk.com`` take)."""
        return self._token.get()

    def v1(self, method: str, path: str, *, body: dict[str, Any] | None = None,
           token: str | None = None) -> dict[str, Any]:
        """A call to ``api.dingtalk.com`` (v1.0), with ``token`` (the app's or a user's) if any."""
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        try:
            status, parsed = json_answer(self.api_base, method, path, timeout=self.timeout, json=body, headers=headers)
        except PlatformBusy as exc:
            raise DingTalkError(BUSY, str(exc)) from None
        if status >= 400:
            raise DingTalkError(str(parsed.get("code", status)), str(parsed.get("message", "")))
        return parsed

    def _new_token(self) -> tuple[str, int]:
        body = self._oapi("GET", "/gettoken", {"appkey": self.app_key, "appsecret": self.app_secret}, None)
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    def _oapi(self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None) -> dict[str, Any]:
        return coded_answer(self.oapi_base, method, path, timeout=self.timeout, error=DingTalkError, params=params,
                            json=body)


@dataclass
class DingTalkSignIn:
    """Web sign-in with DingTalk (its OAuth 2.0; no PKCE: ``state`` ties the answer to the browser)."""

    api: DingTalkApi
    login_base: str = "https://login.dingtalk.com"
    key: str = "dingtalk"

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        query = urlencode({"redirect_uri": redirect_uri, "response_type": "code", "client_id": self.api.app_key,
                           "scope": "openid", "state": attempt.state, "prompt": "consent"})
        return f"{self.login_base}/oauth2/auth?{query}"

    async def login(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> Vouched:
        return await asyncio.to_thread(self._login, answer["code"])

    def _login(self, code: str) -> Vouched:
        try:
            tokens = self.api.v1("POST", "/v1.0/oauth2/userAccessToken", body={
                "clientId": self.api.app_key, "clientSecret": self.api.app_secret, "code": code,
                "grantType": "authorization_code"})
            me = self.api.v1("GET", "/v1.0/contact/users/me", token=str(tokens["accessToken"]))
            found = self.api.call("/topapi/user/getbyunionid", {"unionid": me.get("unionId")})
        except DingTalkError as exc:
            if exc.code == NOT_A_MEMBER:
                raise SignInProblem(NO_LOGIN, "not a member of the corporation") from None
            raise SignInProblem(UNAVAILABLE if exc.code == BUSY else REFUSED, str(exc)) from None
        userid = (found.get("result") or {}).get("userid")
        if not isinstance(userid, str) or not userid:
            raise SignInProblem(NO_LOGIN, "getbyunionid named no userid")
        return Vouched(login=userid, subject=str(me.get("unionId")))


class DingTalkMessages:
    """Work notifications (工作通知) to one member: text, or an ``action_card`` whose buttons open
    pages, with a to-do (待办, ``/v1.0/todo``) in her list that is marked done when the task closes."""

    def __init__(self, api: DingTalkApi) -> None:
        self.api = api

    def send_text(self, userid: str, text: str) -> None:
        self._send(userid, {"msgtype": "text", "text": {"content": text[:2000]}})

    def send_card(self, userid: str, *, title: str, markdown: str, buttons: list[tuple[str, str]],
                  source_id: str, url: str) -> str:
        """The card, and her to-do for it; returns ``unionId/taskId`` to mark the to-do done by."""
        self._send(userid, {"msgtype": "action_card", "action_card": {
            "title": title[:64], "markdown": markdown, "btn_orientation": "1",
            "btn_json_list": [{"title": text, "action_url": link} for text, link in buttons]}})
        try:  # the card is out: the to-do beside it is a convenience
            union = str((self.api.call("/topapi/v2/user/get", {"userid": userid}).get("result") or {}).get("unionid"))
            todo = self.api.v1("POST", f"/v1.0/todo/users/{union}/tasks?operatorId={union}", token=self.api.token(),
                               body={"sourceId": source_id, "subject": title[:100], "executorIds": [union],
                                     "detailUrl": {"appUrl": url, "pcUrl": url}, "isOnlyShowExecutor": True})
        except DingTalkError as exc:
            log.warning("DingTalk to-do for %s not created: %s", source_id, exc)
            return ""
        return f"{union}/{todo['id']}"

    def finish_todo(self, ref: str) -> None:
        union, _, task = ref.partition("/")
        self.api.v1("PUT", f"/v1.0/todo/users/{union}/tasks/{task}?operatorId={union}", token=self.api.token(),
                    body={"done": True})

    def _send(self, userid: str, msg: dict[str, Any]) -> None:
        self.api.call("/topapi/message/corpconversation/asyncsend_v2",
                      {"agent_id": int(self.api.agent_id), "userid_list": userid, "msg": msg})


@dataclass
class DingTalkContacts:
    """The DingTalk address book as an HR master: the departments from the root down
    (``/topapi/v2/department/listsub``) and each one's members page by page (``/topapi/v2/user/list``,
    by ``cursor``). ``userid`` is her employee number; her first department's name, ``title`` and
    ``email`` (or ``org_email``) are what it says of her. The list does not carry a member's
    manager, so the register keeps its own; a member who left is no longer listed (not a note)."""

    api: DingTalkApi
    name: str = "dingtalk"

    def snapshot(self) -> MasterSnapshot:
        try:
            departments = self._departments()
            users: dict[str, dict[str, Any]] = {}
            for dept_id in departments:
                for user in self._members(dept_id):
                    users.setdefault(str(user.get("userid")), user)
        except DingTalkError as exc:
            raise MasterUnavailable(f"钉钉通讯录暂时无法读取：{exc} (the DingTalk address book cannot be read: {exc})") from None
        records = []
        for place, user in enumerate(users.values(), start=1):
            fields = {"employee_id": user.get("userid"), "name": user.get("name"),
                      "department": departments.get(next(iter(user.get("dept_id_list") or []), -1)),
                      "position": user.get("title"), "email": user.get("org_email") or user.get("email")}
            records.append(MasterRecord(position=place, fields={k: v for k, v in fields.items() if v}, status="active"))
        return MasterSnapshot(source="钉钉通讯录 (DingTalk contacts)", exported_at=dt.datetime.now(dt.UTC),
                              records=records, contacts_only=True)

    def _departments(self) -> dict[int, str]:
        names, pending = {1: "根部门"}, [1]
        while pending:
            parent = pending.pop()
            for dept in self.api.call("/topapi/v2/department/listsub", {"dept_id": parent}).get("result") or []:
                names[int(dept["dept_id"])] = str(dept.get("name", ""))
                pending.append(int(dept["dept_id"]))
        return names

    def _members(self, dept_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = 0
        while True:
            result = self.api.call("/topapi/v2/user/list", {"dept_id": dept_id, "cursor": cursor, "size": 100}).get(
                "result") or {}
            found += result.get("list") or []
            if not result.get("has_more"):
                return found
            cursor = int(result.get("next_cursor") or 0)
