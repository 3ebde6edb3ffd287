"""Feishu (飞书) through its open platform: the app's tenant token, sign-in, cards, contacts.

The shapes are Feishu's documented ones. ``POST /open-apis/auth/v3/tenant_access_token/internal``
(``app_id``, ``app_secret``) gives a ``tenant_access_token`` for ``expire`` seconds; it is kept,
renewed five minutes early, and fetched anew when Feishu answers that it is invalid (99991663,
99991661). Every answer is JSON with ``code`` (0 is success) and ``msg``. Sign-in is OAuth 2.0
with PKCE: ``/open-apis/authen/v1/authorize`` on the accounts host, the code exchanged at
``/open-apis/authen/v2/oauth/token``, then ``/open-apis/authen/v1/user_info``, whose ``user_id``
is the login (the same id messages and cards are addressed by).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from integrations.app_token import BUSY, AppToken, coded_answer
from integrations.hr_master import MasterRecord, MasterSnapshot, MasterUnavailable
from integrations.identity import NO_LOGIN, REFUSED, UNAVAILABLE, Attempt, SignInProblem, Vouched

log = logging.getLogger("hrflow.feishu")
TOKEN_INVALID = {99991663, 99991661, 99991668}


class FeishuError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"Feishu code {code}: {msg}")
        self.code = code
        self.msg = msg


@dataclass
class FeishuApi:
    """One Feishu app (its id and secret): the tenant token and authenticated calls. Blocking and
    thread-safe, like ``integrations.wecom.WeComApi``."""

    app_id: str
    app_secret: str
    api_base: str = "https://open.feishu.cn"
    timeout: float = 10.0
    _token: AppToken = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._token = AppToken(self._new_token)

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json_body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._token.call(
            lambda token: ask(self.api_base, method, path, params=params, json_body=json_body,
                              headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout),
            expired=lambda exc: isinstance(exc, FeishuError) and exc.code in TOKEN_INVALID,
            busy=lambda exc: isinstance(exc, FeishuError) and exc.code == BUSY)

    def _new_token(self) -> tuple[str, int]:
        body = ask(self.api_base, "POST", "/open-apis/auth/v3/tenant_access_token/internal",
                   json_body={"app_id": self.app_id, "app_secret": self.app_secret}, timeout=self.timeout)
        return str(body["tenant_access_token"]), int(body.get("expire", 7200))


def ask(base: str, method: str, path: str, *, params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
        timeout: float = 10.0) -> dict[str, Any]:
    """One call; its JSON when ``code`` is 0, else ``FeishuError`` (network trouble and 5xx: -1)."""
    return coded_answer(base, method, path, timeout=timeout, error=FeishuError, code_field="code",
                        message_fields=("msg", "error_description"), params=params, json=json_body, headers=headers)


@dataclass
class FeishuSignIn:
    """Web sign-in with Feishu (OAuth 2.0, PKCE S256)."""

    api: FeishuApi
    accounts_base: str = "https://accounts.feishu.cn"
    key: str = "feishu"

    async def authorization_url(self, attempt: Attempt, redirect_uri: str) -> str:
        query = urlencode({"client_id": self.api.app_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "state": attempt.state, "code_challenge": attempt.challenge,
                           "code_challenge_method": "S256"})
        return f"{self.accounts_base}/open-apis/authen/v1/authorize?{query}"

    async def login(self, answer: Mapping[str, str], attempt: Attempt, redirect_uri: str) -> Vouched:
        return await asyncio.to_thread(self._login, answer["code"], attempt.verifier, redirect_uri)

    def _login(self, code: str, verifier: str, redirect_uri: str) -> Vouched:
        try:
            tokens = ask(self.api.api_base, "POST", "/open-apis/authen/v2/oauth/token", json_body={
                "grant_type": "authorization_code", "client_id": self.api.app_id, "client_secret": self.api.app_secret,
                "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}, timeout=self.api.timeout)
            me = ask(self.api.api_base, "GET", "/open-apis/authen/v1/user_info",
                     headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=self.api.timeout)
        except FeishuError as exc:
            raise SignInProblem(UNAVAILABLE if exc.code == BUSY else REFUSED, str(exc)) from None
        data = me.get("data") or {}
        login = data.get("user_id")
        if not isinstance(login, str) or not login:
            raise SignInProblem(NO_LOGIN, "no user_id in user_info (not a member, or the permission is missing)")
        return Vouched(login=login, subject=str(data.get("open_id") or login))


class FeishuMessages:
    """Messages to one member by ``user_id`` (``/open-apis/im/v1/messages``): text, and the
    interactive card of a task, whose callback buttons carry the link and the choice in ``value``,
    with a Feishu task in her list beside it."""

    def __init__(self, api: FeishuApi) -> None:
        self.api = api

    def send_text(self, user_id: str, text: str) -> None:
        self._send(user_id, "text", {"text": text[:4000]})

    def send_card(self, user_id: str, card: dict[str, Any], *, summary: str, url: str, source_id: str) -> str:
        """The card, and a task (Feishu 任务, ``task/v2``) in her list pointing at the same page;
        returns ``message_id|task guid``, by which both are closed when the task closes here."""
        message_id = self._send(user_id, "interactive", card, uuid=source_id)  # a retried send is one message
        try:
            created = self.api.call("POST", "/open-apis/task/v2/tasks", params={"user_id_type": "user_id"}, json_body={
                "summary": summary[:100], "client_token": source_id,
                "members": [{"id": user_id, "type": "user", "role": "assignee"}],
                "origin": {"platform_i18n_name": {"zh_cn": "hrflow 人事流程", "en_us": "hrflow"},
                           "href": {"url": url, "title": summary[:100]}}})
        except FeishuError as exc:  # the card is out: the task beside it is a convenience
            log.warning("Feishu task for %s not created: %s", source_id, exc)
            return f"{message_id}|"
        return f"{message_id}|{((created.get('data') or {}).get('task') or {}).get('guid', '')}"

    def close(self, ref: str, card: dict[str, Any]) -> None:
        """The card replaced by ``card`` (its outcome), and her task completed."""
        message_id, _, task = ref.partition("|")
        if message_id:
            self.api.call("PATCH", f"/open-apis/im/v1/messages/{message_id}",
                          json_body={"content": json.dumps(card, ensure_ascii=False)})
        if task:
            self.api.call("PATCH", f"/open-apis/task/v2/tasks/{task}", json_body={
                "task": {"completed_at": str(int(time.time() * 1000))}, "update_fields": ["completed_at"]})

    def _send(self, user_id: str, msg_type: str, content: dict[str, Any], uuid: str | None = None) -> str:
        body = self.api.call("POST", "/open-apis/im/v1/messages", params={"receive_id_type": "user_id"}, json_body={
            "receive_id": user_id, "msg_type": msg_type, "content": json.dumps(content, ensure_ascii=False),
            **({"uuid": uuid[:50]} if uuid else {})})
        return str((body.get("data") or {}).get("message_id") or "")


def task_card(*, title: str, workflow_id: str, due: str | None, url: str, link_id: int,
              buttons: list[tuple[str, str | None, bool]]) -> dict[str, Any]:
    """A task's card: its title, the case, and buttons (text, the choice a callback sends or None
    for one that opens the page, primary)."""
    lines = [f"**案件**：{workflow_id}"] + ([f"**期限**：{due}"] if due else [])
    actions = [{"tag": "button", "text": {"tag": "plain_text", "content": text},
                "type": "primary" if primary else "default",
                **({"value": {"link": link_id, "choice": choice}} if choice else {"url": url})}
               for text, choice, primary in buttons]
    return {"config": {"wide_screen_mode": True, "update_multi": True},  # updatable when the task closes
            "header": {"template": "blue", "title": {"tag": "plain_text", "content": title[:100]}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}},
                         {"tag": "action", "actions": actions},
                         {"tag": "note", "elements": [{"tag": "plain_text", "content": "hrflow 人事流程"}]}]}


def outcome_card(title: str, words: str) -> dict[str, Any]:
    """What a pressed card becomes: its title and the outcome, no buttons."""
    return {"config": {"wide_screen_mode": True, "update_multi": True},
            "header": {"template": "grey", "title": {"tag": "plain_text", "content": title[:100]}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": f"**{words}**"}}]}


@dataclass
class FeishuContacts:
    """The Feishu address book as an HR master (``contact/v3``): every member under the root
    department, page by page; ``user_id`` is her employee number, her first department's name,
    ``job_title``, ``email`` and ``leader_user_id`` are what it says of her; a resigned member
    (``status.is_resigned``) is a leaver."""

    api: FeishuApi
    name: str = "feishu"

    def snapshot(self) -> MasterSnapshot:
        try:
            departments = self._all("/open-apis/contact/v3/departments/0/children",
                                    {"fetch_child": "true", "department_id_type": "open_department_id"})
            users = self._all("/open-apis/contact/v3/users/find_by_department",
                              {"department_id": "0", "department_id_type": "open_department_id",
                               "user_id_type": "user_id"})
        except FeishuError as exc:
            raise MasterUnavailable(f"飞书通讯录暂时无法读取：{exc} (the Feishu address book cannot be read: {exc})") from None
        names = {d.get("open_department_id"): d.get("name") for d in departments}
        records = []
        for place, user in enumerate(users, start=1):
            fields = {"employee_id": user.get("user_id"), "name": user.get("name"),
                      "department": names.get(next(iter(user.get("department_ids") or []), None)),
                      "position": user.get("job_title"), "email": user.get("enterprise_email") or user.get("email"),
                      "manager_id": user.get("leader_user_id")}
            left = bool((user.get("status") or {}).get("is_resigned"))
            records.append(MasterRecord(position=place, fields={k: v for k, v in fields.items() if v},
                                        status="left" if left else "active"))
        return MasterSnapshot(source="飞书通讯录 (Feishu contacts)", exported_at=dt.datetime.now(dt.UTC),
                              records=records, contacts_only=True)

    def _all(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            body = self.api.call("GET", path, params={**params, "page_size": "50", **({"page_token": page} if page else {})})
            data = body.get("data") or {}
            items += data.get("items") or []
            page = data.get("page_token")
            if not data.get("has_more") or not page:
                return items
