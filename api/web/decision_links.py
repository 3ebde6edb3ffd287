"""Deciding a task from outside the web app: a decision link's confirmation page, and a card's button.

A link names one person and one task (``db.action_links``); it reaches her in a task's e-mail and
behind the buttons of its IM card. Opening it shows the task and the choices it allows
(``domain.link_decisions``); confirming one sends the request the web app would send, with a token
minted for her as the directory has her now, so every rule of the API holds (maker-checker, the
subject of a case never decides, her role or her step on the approver route) and the decision is
audited as hers, with a second entry (``decision_link.used``) saying how it came. The request id
is the link's and the choice's, so a second tap is the same request. A forged, used or expired
link, one for a task already closed, or one opened in a browser signed in as somebody else
decides nothing. A link is a bearer credential, like the e-mail it comes in: opened signed out, it
decides as her, which is why it names her, works once, expires, and never decides a figure.
``press`` is the same decision for a card's callback button, whose platform signed the callback.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response

from api.auth import mint_token
from api.processes import process_of
from api.transactions import transact
from api.web import actions
from api.web import session as web_session
from api.web.calls import Answer, call
from api.web.pages import Page, message_of
from api.web.session import Identity, Session
from api.web.sign_in import directory_identity
from db import action_links
from db.audit import AuditEntry, append
from domain.link_decisions import LinkChoice

log = logging.getLogger("hrflow.web")
TOKEN_MINUTES = 5  # the token a link's decision is sent with lives only for that request


def install(app: FastAPI) -> None:
    @app.api_route("/app/links/{text}", methods=["GET", "POST"], include_in_schema=False)
    async def decision_link(text: str, request: Request) -> Response:
        page = Page(request)
        secret: str = request.app.state.jwt_secret
        now = dt.datetime.now(dt.UTC)

        link, her = await _with_person(request, lambda s: action_links.find(s, secret=secret, text=text))
        refusal = refusal_of(link, her, page.session, now)
        if refusal is not None:
            status, key = refusal
            return page.render("decision_link.html", status=status, refusal=page.t(key), link=link, her=her)
        assert link is not None and her is not None
        process = process_of(link.workflow_id)
        view = await call(request, _session_of(request, her), "GET", f"{process.api}/{quote(link.workflow_id, safe='')}") \
            if process else None
        if view is None or not view.ok:
            return page.render("decision_link.html", status=403, refusal=page.t("app.link_not_yours"), link=link, her=her)
        needs_web = link.back_payment
        chosen = [c for c in link.choices if c.name == request.query_params.get("choice")] or list(link.choices)

        def confirm(problem: str = "") -> Response:
            """The confirmation page: the task, and the choice tapped on the card (or every one)."""
            return page.render("decision_link.html", link=link, her=her, view=view.body, needs_web=needs_web,
                               text=text, problem=problem, refusal="", choices=chosen)

        if request.method == "GET" or needs_web:
            return confirm()
        form = await request.form()
        if not web_session.posted_by_our_page(request, None, None):
            return page.render("problem.html", status=403, message=page.t("app.csrf_failed"))
        choice = next((c for c in link.choices if c.name == form.get("choice")), None)
        reason = str(form.get("reason") or "").strip()
        if choice is None or (choice.needs_reason and not reason):
            return confirm(page.t("app.link_reason_needed"))
        answer = await decide(request, link, her, choice, reason, via="link", now=now)
        if answer is None:
            return page.render("decision_link.html", status=410, refusal=page.t("app.link_used"), link=link, her=her)
        if not answer.ok:
            return confirm(message_of(answer, page.t))
        return page.render("decision_link.html", link=link, her=her, done=choice.name, refusal="")


async def _with_person(request: Request, lookup: Callable[[Any], action_links.OpenLink | None]
                       ) -> tuple[action_links.OpenLink | None, Identity | None]:
    """The link ``lookup`` finds, and its person as the directory has her now, in one transaction."""

    def work(session: Any) -> tuple[action_links.OpenLink | None, Identity | None]:
        link = lookup(session)
        return link, directory_identity(session, link.person) if link is not None else None

    return await transact(request, work)


def refusal_of(link: action_links.OpenLink | None, her: Identity | None, session: Session | None,
             now: dt.datetime) -> tuple[int, str] | None:
    """Why this link decides nothing now (status, text key), or None."""
    if link is None:
        return 404, "app.link_unknown"
    if link.used_at is not None:
        return 410, "app.link_used"
    if link.expires_at <= now:
        return 410, "app.link_expired"
    if not link.task_open or not link.choices:
        return 410, "app.link_closed"
    if her is None:
        return 403, "app.sso_not_in_directory"
    if session is not None and session.user != her.user:
        return 403, "app.link_other_person"
    return None


def _session_of(request: Request, her: Identity) -> Session:
    token = mint_token(request.app.state.jwt_secret, user=her.user, role=her.role, employee_id=her.employee_id,
                       unit=her.unit_code, ttl=dt.timedelta(minutes=TOKEN_MINUTES))
    return Session(token=token, user=her.user, role=her.role, employee_id=her.employee_id)


async def decide(request: Request, link: action_links.OpenLink, her: Identity, choice: LinkChoice, reason: str, *,
                 via: str, now: dt.datetime) -> Answer | None:
    """The link's one decision, through the API as her: the link claimed first (None: it was used
    or has expired), then the API's answer; the link is given back if the API refused."""
    if not await transact(request, lambda s: action_links.claim(s, link.id, choice.name, now=now)):
        return None
    action = actions.case_action(request.app, link.kind, choice.action)
    assert action is not None, f"no API action {choice.action!r} on {link.kind}"
    fields = action.body.model_fields if action.body else {}
    body: dict[str, Any] | None = None
    if action.body is not None:
        body = dict(choice.body) | ({"reason": reason} if reason and "reason" in fields else {})
    # One request per choice: a retry of the same tap is the same request; another choice is not.
    request_id = f"decision-link-{link.id}-{choice.name}"
    try:
        answer = await call(request, _session_of(request, her), "POST",
                            action.url(quote(link.workflow_id, safe="")), json=body, request_id=request_id)
    except Exception:
        await transact(request, lambda s: action_links.settle(s, link.id, decided=False, outcome="error"))
        raise

    def settle(session: Any) -> None:
        action_links.settle(session, link.id, decided=answer.ok, outcome=str(answer.status))
        if answer.ok:
            append(session, AuditEntry(actor=her.user, actor_role=her.role.value, action="decision_link.used",
                                       workflow_id=link.workflow_id, request_id=request_id,
                                       after={"task": link.task_key, "choice": choice.name, "via": via}))

    await transact(request, settle)
    return answer


OUTCOME = {"approve": "已同意", "reject": "已驳回"}


async def press(request: Request, link_id: int, member: str, key: str, *, via: str) -> str | None:
    """A card's button pressed on an IM platform, whose signed callback names the card's link,
    the member and the button: decided once, as the link's person; the card's new words, or None
    when there is nothing to show (a repeat of a callback, a card of somebody else's)."""

    link, her = await _with_person(request, lambda s: action_links.card_link(s, link_id))
    if link is None or link.person != member:
        log.warning("%s card of link %s pressed by %s, who is not its person", via, link_id, member)
        return None
    if link.used_at is not None and link.used_choice == key:
        return None  # the platform repeating a callback already decided
    now = dt.datetime.now(dt.UTC)
    choice = next((c for c in link.choices if c.name == key), None)
    if choice is not None and choice.needs_reason:
        return "须填写理由：请打开卡片在页面中处理"
    if choice is None or her is None or refusal_of(link, her, None, now) is not None:
        return "已失效或已处理，请在系统中查看"
    answer = await decide(request, link, her, choice, "", via=via, now=now)
    if answer is None:
        return None  # a repeat of this callback took the link first
    return OUTCOME.get(choice.name, "已处理") if answer.ok else "未能处理，请在系统中处理"
