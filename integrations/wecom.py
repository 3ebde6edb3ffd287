"""WeCom (企业微信) through its server API: the access token, sign-in, messages and cards, contacts.

The shapes are WeCom's documented ones. ``GET /cgi-bin/gettoken?corpid&corpsecret`` gives an
``access_token`` for ``expires_in`` seconds (7200); it is kept and fetched anew five minutes before
it ends, or at once when WeCom says it has expired or is invalid (``42001``, ``40014``). Every
answer is JSON with ``errcode`` (0 is success) and ``errmsg``; ``-1`` is WeCom being busy, retried
once. Web sign-in (企业微信扫码/网页登录) sends the browser to
``/wwlogin/sso/login`` and back with a ``code``, which ``/cgi-bin/auth/getuserinfo`` turns into the
member's ``userid``; a visitor who is not a member of the corporation comes back with an
``openid`` only, and is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from integrations.app_token import BUSY, AppToken, coded_answer
from integrations.hr_master import MasterRecord, MasterSnapshot, MasterUnavailable
from integrations.identity import NO_LOGIN, REFUSED, UNAVAILABLE, Attempt, SignInProblem, Vouched

TOKEN_EXPIRED = {42001, 40014}  # access_token expired / invalid: fetch a new one and ask again
INVALID_CODE = 40029
LEFT_CORPORATION = 5  # a member's status: 1 active, 2 disabled, 4 not yet activated, 5 left


class WeComError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class WeComApi:
    """One WeCom application (corp id, agent id, its secret): the token, and authenticated calls.
    Blocking and thread-safe: the pages call it in a thread, the notification relay directly."""

    corp_id: str
    agent_id: str
    secret: str
    api_base: str = "https://qyapi.weixin.qq.com"
    timeout: float = 10.0
    _token: AppToken = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._token = AppToken(self._new_token)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: dict[str, Any] | None = None) -> dict[str, Any]:
        """``path`` with the access token; the answer when ``errcode`` is 0, else ``WeComError``
        (network trouble and HTTP 5xx are ``WeComError(-1)`` too, after one retry)."""
        return self._token.call(
            lambda token: self._ask(method, path, params={**(params or {}), "access_token": token}, json=json),
            expired=lambda exc: isinstance(exc, WeComError) and exc.errcode in TOKEN_EXPIRED,
            busy=lambda exc: isinstance(exc, WeComError) and exc.errcode == BUSY)

    def _new_token(self) -> tuple[str, int]:
        body = self._ask("GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret})
        return str(body["access_token"]), int(body.get("expires_in", 7200))

    def _ask(self, method: str, path: str, *, params: dict[str, Any],
             json: dict[str, Any] | None = None) -> dict[str, Any]:
        return coded_answer(self.api_base, method, path, timeout=self.timeout, error=WeComError, params=params,
                            json=json)


@dataclass
class WeComSignIn:
    """Web sign-in with WeCom. WeCom's OAuth has no PKCE; ``state`` ties the answer to the browser."""

    api: WeComApi
    login_base: str = "https://login.work.weixin.qq.com"
    key: str = "wecom"

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        query = urlencode({"login_type": "CorpApp", "appid": self.api.corp_id, "agentid": self.api.agent_id,
                           "redirect_uri": redirect_uri, "state": attempt.state})
        return f"{self.login_base}/wwlogin/sso/login?{query}"

    async def login(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> Vouched:
        try:
            body = await asyncio.to_thread(self.api.call, "GET", "/cgi-bin/auth/getuserinfo",
                                           params={"code": answer["code"]})
        except WeComError as exc:
            raise SignInProblem(REFUSED if exc.errcode == INVALID_CODE else UNAVAILABLE, str(exc)) from None
        userid = body.get("userid")
        if not isinstance(userid, str) or not userid:
            raise SignInProblem(NO_LOGIN, "not a member of the corporation (openid only)")
        return Vouched(login=userid, subject=userid)  # WeCom's userid is fixed once set


@dataclass(frozen=True)
class CardButton:
    """A button of an interactive card: a callback (``key``) or one that opens a page (``url``)."""

    text: str
    key: str | None = None
    url: str | None = None
    primary: bool = False


class WeComMessages:
    """Application messages to one member (``/cgi-bin/message/send``) and the update of a card
    after its button was pressed (``/cgi-bin/message/update_template_card``, with the event's
    ``ResponseCode``, which works once and for 72 hours). A member WeCom does not know comes back
    in ``invaliduser``: a permanent failure, not a retry."""

    def __init__(self, api: WeComApi) -> None:
        self.api = api

    def send_text(self, userid: str, text: str) -> None:
        self._send(userid, {"msgtype": "text", "text": {"content": text[:2000]}})

    def send_card(self, userid: str, *, task_id: str, title: str, description: str, facts: list[tuple[str, str]],
                  url: str, buttons: list[CardButton]) -> None:
        card = {
            "card_type": "button_interaction",
            "source": {"desc": "hrflow 人事流程"},
            "main_title": {"title": title[:36], "desc": description[:44]},
            "horizontal_content_list": [{"keyname": k[:5], "value": v[:26]} for k, v in facts[:6]],
            "card_action": {"type": 1, "url": url},
            "task_id": task_id,
            "button_list": [
                {"text": b.text[:10], "style": 1 if b.primary else 2}
                | ({"key": b.key} if b.key else {"type": 1, "url": b.url})
                for b in buttons[:6]],
        }
        self._send(userid, {"msgtype": "template_card", "template_card": card})

    def update_card(self, userid: str, response_code: str, replace_name: str) -> None:
        self.api.call("POST", "/cgi-bin/message/update_template_card", json={
            "userids": [userid], "agentid": int(self.api.agent_id), "response_code": response_code,
            "button": {"replace_name": replace_name[:20]}})

    def _send(self, userid: str, message: dict[str, Any]) -> None:
        body = self.api.call("POST", "/cgi-bin/message/send", json={
            "touser": userid, "agentid": int(self.api.agent_id), "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800, **message})
        if userid in str(body.get("invaliduser", "")).split("|"):
            raise WeComError(81013, f"member {userid!r} is not in WeCom (invaliduser)")


@dataclass
class WeComContacts:
    """The WeCom address book as an HR master: ``/cgi-bin/department/list`` and
    ``/cgi-bin/user/list?department_id=<root>&fetch_child=1``, read with the 通讯录同步 secret.
    A member's ``userid`` is her employee number; her main department's name, position, e-mail
    and first direct leader (``direct_leader``) are what the address book says of her; status 5
    (退出企业) is a leaver. What a member leaves blank is left out, so the register keeps its own."""

    api: WeComApi
    name: str = "wecom"

    def snapshot(self) -> MasterSnapshot:
        try:
            departments = self.api.call("GET", "/cgi-bin/department/list").get("department") or []
            roots = [d["id"] for d in departments if not d.get("parentid")] or [1]
            users = self.api.call("GET", "/cgi-bin/user/list",
                                  params={"department_id": roots[0], "fetch_child": 1}).get("userlist") or []
        except WeComError as exc:
            raise MasterUnavailable(f"企业微信通讯录暂时无法读取：{exc} (the WeCom address book cannot be read: {exc})") from None
        names = {d["id"]: d.get("name") for d in departments}
        records = []
        for place, user in enumerate(users, start=1):
            main = user.get("main_department") or next(iter(user.get("department") or []), None)
            fields = {"employee_id": user.get("userid"), "name": user.get("name"), "department": names.get(main),
                      "position": user.get("position"), "email": user.get("email") or user.get("biz_mail"),
                      "manager_id": next(iter(user.get("direct_leader") or []), None)}
            records.append(MasterRecord(position=place, fields={k: v for k, v in fields.items() if v},
                                        status="left" if user.get("status") == LEFT_CORPORATION else "active"))
        return MasterSnapshot(source="企业微信通讯录 (WeCom contacts)", exported_at=dt.datetime.now(dt.UTC),
                              records=records, contacts_only=True)
