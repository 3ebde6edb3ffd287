"""The pages: sign-in, inbox, cases, the forms that start and decide them, and each role's lists.

Every page reads and acts through the API (``api.web.calls``) as the signed-in person, so a page
shows what the API shows her and refuses what it refuses. A form posts back to its own address
(post/redirect/get on success; on refusal the form again, with each field's message beside it).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.i18n import COOKIE as LANGUAGE_COOKIE
from api.i18n import LANGUAGES, language, say
from api.processes import PROCESSES, Process, process_of
from api.routes.erasures import ErasureIn
from api.routes.offboarding import RECORD_OWNERS, RecordIn
from api.routes.personal_export import EXPORTERS
from api.transactions import transact
from api.web import actions, forms, money_words, sso, statistics_charts
from api.web import session as web_session
from api.web.calls import Answer, call
from api.web.session import Session
from api.web.sign_in import choice_key, directory_identity, method_for
from api.web.texts import Texts
from db.audit import AuditEntry, append
from db.models import ACCESS_KINDS
from domain.base_adjustment import RULES
from domain.roles import HR, STAFF, Role
from hrflow.settings import Settings
from integrations.identity import REFUSED, UNAVAILABLE, Attempt, SignInProblem
from workflows.offboarding import OUTCOMES
from workflows.transfer import REJECTION_REASONS

HERE = Path(__file__).resolve().parent
KINDS = [p.kind for p in PROCESSES]
CHINA = dt.timezone(dt.timedelta(hours=8))
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self';"
       " base-uri 'none'; frame-ancestors 'none'")
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

log = logging.getLogger("hrflow.web")


def _when(value: Any) -> str:
    """An instant as people in China read it: local date and minute."""
    if not value:
        return ""
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at.tzinfo else at.strftime("%Y-%m-%d %H:%M")


def _overdue(value: Any) -> bool:
    if not value:
        return False
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return (at if at.tzinfo else at.replace(tzinfo=CHINA)) < dt.datetime.now(dt.UTC)  # a bare date: China's


_env.filters["when"] = _when
_env.tests["overdue"] = _overdue


class Page:
    """What a handler needs for one request: the reader, her language, and how to answer."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.lang = language(request)
        self.t = Texts(self.lang)
        self.session = web_session.current(request)

    async def api(self, method: str, path: str, **kwargs: Any) -> Answer:
        return await call(self.request, self.session, method, path, **kwargs)

    async def fetch(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        """The API's answer to a GET of ``path``; a refusal leaves the handler as a page saying why."""
        answer = await self.api("GET", path, params=params)
        if not answer.ok:
            raise Leave(self.problem(answer))
        return answer

    async def read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return (await self.fetch(path, params)).body

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        s = self.session
        settings: Settings = self.request.app.state.settings
        html = _env.get_template(template).render(
            t=self.t, lang=self.lang, session=s, csrf=web_session.form_token(self.request, s) if s else "",
            nav=_nav(s) if s else [], path=self.request.url.path, here=_here(self.request),
            other_lang="en" if self.lang == "zh" else "zh", temporal_ui=settings.temporal_ui_url,
            label=lambda name: forms.label(name, self.lang), namespace=settings.temporal_namespace,
            said=lambda text: say(str(text), self.lang) if text else "", **context)
        response = HTMLResponse(html, status)
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"  # pages carry names and figures of people
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if self.session is not None:
            web_session.touch(self.request, response, self.session)
        return response

    def redirect(self, to: str) -> Response:
        return self.finish(RedirectResponse(to, status_code=303))

    def problem(self, answer: Answer) -> Response:
        """A page the API would not serve: its reason, in words."""
        return self.render("problem.html", status=answer.status if answer.status >= 400 else 500,
                           message=message_of(answer, self.t))


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _words(error: Any, detail: Any) -> str:
    """An API refusal's reason as a person reads it: its message(s), the code only when it has none."""
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("title") or error)
    if isinstance(detail, list):
        return "；".join(str(i.get("message", i)) if isinstance(i, dict) else str(i) for i in detail)
    return str(detail) if detail else str(error)


def _line_words(line: dict[str, Any], t: Texts) -> dict[str, Any]:
    """One line of a batch's answer with its refusal in words, as a single review would show it."""
    if line.get("applied"):
        return line
    bare = line.get("error") == "not_found" and not line.get("detail")
    return {**line, "said": t("app.case_not_found") if bare else _words(line.get("error"), line.get("detail"))}


def message_of(answer: Answer, t: Texts) -> str:
    """The API's refusal in the reader's words."""
    body = answer.body
    if answer.status == 401:
        return t("app.session_expired")
    if answer.status == 503:
        return t("app.unavailable")
    if isinstance(body, dict):
        return _words(body.get("error"), body.get("detail"))
    if answer.status == 404:
        return t("app.not_found")
    if answer.status == 403:
        return t("app.forbidden")
    return str(answer.status)


@dataclass(frozen=True)
class ImportTexts:
    title: str
    hint: str
    file: str
    done: str


# The imports the pages offer, by the API's path ("/employees/import"): the texts of each.
IMPORTS = {"employees": ImportTexts("app.import_employees", "app.import_hint", "app.import_file", "app.import_done"),
           "org-units": ImportTexts("app.import_units", "app.import_units_hint", "app.import_units_file",
                                    "app.import_units_done")}


def _nav(s: Session) -> list[tuple[str, str]]:
    role = s.role
    items = [("/app/inbox", "app.inbox")]
    if role is Role.EMPLOYEE:
        items = [("/app/my", "app.my_cases"), ("/app/inbox", "app.inbox"), ("/app/new", "app.new_case"),
                 ("/app/notices", "app.notices")]
        return items
    items.append(("/app/cases", "app.cases"))
    if role in HR:
        items += [("/app/new", "app.new_case"), ("/app/transfers/review", "app.review_batch"),
                  ("/app/employees/import", "app.import_employees")]
    if role in (Role.FINANCE, Role.HR_MANAGER):
        items.append(("/app/receivables", "app.receivables"))
    if role in (Role.HR_SPECIALIST, Role.HR_MANAGER, Role.FINANCE, Role.COMPLIANCE):
        items.append(("/app/base-adjustments", "app.base_adjustments"))
    if role in (Role.HR_MANAGER, Role.HR_SPECIALIST, Role.COMPLIANCE):
        items.append(("/app/statistics", "app.transfer_statistics"))
    if role in (Role.HR_MANAGER, Role.FINANCE, Role.COMPLIANCE, Role.ADMIN):
        items.append(("/app/reports", "app.reports"))
    if role in (Role.ADMIN, Role.HR_MANAGER):
        items += [("/app/staff", "app.staff"), ("/app/org-units/import", "app.import_units")]
    items.append(("/app/delegations", "app.delegations"))
    if role in (Role.COMPLIANCE, Role.FINANCE, Role.IT, Role.HR_SPECIALIST, Role.HR_MANAGER):
        items.append(("/app/records", "app.records"))
    if role is Role.ADMIN:
        items.append(("/app/policy-notices", "app.policy_notices"))
    if role in (Role.ADMIN, Role.HR_MANAGER):
        items.append(("/app/schedules", "app.schedules"))
    if role in (Role.COMPLIANCE, Role.ADMIN):
        items.append(("/app/privacy/access-log", "app.access_log"))
    if role is Role.COMPLIANCE:
        items.append(("/app/erasures", "erasure.title"))
    items.append(("/app/notices", "app.notices"))
    return items


# A refused form comes back as the page it was, with the refusal shown (200): a person reads the
# refusal on the page, and a browser does not log the answer as a failed load.
def _request_id(form: Any) -> str:
    """The form's own id (one per form shown): a double submit is one request to the API."""
    given = str(form.get("_request_id") or "")
    return given if given.isalnum() and len(given) <= 64 else uuid.uuid4().hex


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")
    settings: Settings = app.state.settings
    sign_in_method = method_for(settings.dev_sign_in)
    providers = sso.providers_from(settings)
    app.state.sign_in_providers = providers

    async def signed_in(request: Request) -> Page:
        """The page of a signed-in person; a post, only from one of our forms. Otherwise the
        answer is the sign-in page (or the refusal), through ``Leave``."""
        page = Page(request)
        if page.session is None:
            raise Leave(RedirectResponse(f"/app/sign-in?next={quote(_here(request))}", status_code=303))
        if request.method == "POST":
            form = await request.form()
            if not web_session.posted_by_our_page(request, page.session, str(form.get("_csrf") or "")):
                raise Leave(page.render("problem.html", status=403, message=page.t("app.csrf_failed")))
        return page

    @app.exception_handler(Leave)
    async def leave(_: Request, exc: Leave) -> Response:
        return exc.response

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        page = Page(request)
        return page.redirect("/app" if page.session else "/app/sign-in")

    @app.get("/app/sign-in", include_in_schema=False)
    async def sign_in_page(request: Request) -> Response:
        page = Page(request)
        people = await sign_in_method.people(request)
        next_path = _safe_next(request.query_params.get("next"))
        return page.render("sign_in.html", staff=[p for p in people if p.role in STAFF],
                           employees=[p for p in people if p.role is Role.EMPLOYEE], key=choice_key,
                           dev=settings.dev_sign_in, next=next_path,
                           providers=[(f"/app/sign-in/{k}" + (f"?next={quote(next_path)}" if next_path else ""),
                                       sso.LABELS[k]) for k in providers])

    @app.post("/app/sign-in", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        page = Page(request)
        form = await request.form()
        if not web_session.posted_by_our_page(request, None, None):
            return page.render("problem.html", status=403, message=page.t("app.csrf_failed"))
        who = await sign_in_method.complete(request, str(form.get("person") or ""))
        if who is None:
            return page.redirect("/app/sign-in")
        await transact(request, lambda session: _record_sign_in(session, who, "dev"))
        response = RedirectResponse(_safe_next(str(form.get("next") or "")) or "/app", status_code=303)
        web_session.start(request, response, who)
        page.session = None  # signed in anew: the session this request came with (if any) is over
        return page.finish(response)

    @app.get("/app/sign-in/{key}", include_in_schema=False)
    async def sign_in_through(key: str, request: Request) -> Response:
        """Off to the provider, the attempt kept in a cookie until the browser is back."""
        page = Page(request)
        provider = providers.get(key)
        if provider is None:
            return page.render("problem.html", status=404, message=page.t("app.sso_unknown"))
        attempt = Attempt()
        try:
            url = await provider.authorization_url(attempt, sso.return_address(request, key))
        except SignInProblem as exc:
            return _sign_in_refused(page, key, exc)
        response = RedirectResponse(url, status_code=303)
        sso.keep(request, response, key, attempt, _safe_next(request.query_params.get("next")))
        return page.finish(response)

    @app.get("/app/sign-in/{key}/callback", include_in_schema=False)
    async def signed_in_through(key: str, request: Request) -> Response:
        """Back from the provider: this browser's attempt, the login the code vouches for, and who
        that is in the directory; anything else is refused and nobody is signed in."""
        page = Page(request)
        query = request.query_params
        provider = providers.get(key)
        kept = sso.taken(request, key, query.get("state", "")) if provider is not None else None
        code = query.get("code") or query.get("authCode") or ""  # DingTalk names it authCode
        try:
            if provider is None or kept is None:
                raise SignInProblem(sso.ATTEMPT_UNKNOWN, "no kept attempt for this state")
            if query.get("error") or not code:
                raise SignInProblem(REFUSED, repr(f"{query.get('error', 'no code')}: {query.get('error_description', '')}"))
            attempt, next_path = kept
            vouched = await provider.login(dict(query) | {"code": code}, attempt, sso.return_address(request, key))

            def look_up(session: Any) -> Any:
                who = directory_identity(session, vouched.login)
                if who is None:
                    raise SignInProblem(sso.NOT_IN_DIRECTORY, f"login {vouched.login!r}")
                sso.bind(session, key, vouched)
                _record_sign_in(session, who, key)
                return who

            who = await transact(request, look_up)
        except SignInProblem as exc:
            return _sign_in_refused(page, key, exc)
        response = RedirectResponse(next_path or "/app", status_code=303)
        sso.forget(response)
        web_session.start(request, response, who)
        page.session = None
        return page.finish(response)

    @app.post("/app/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        await signed_in(request)
        response = RedirectResponse("/app/sign-in", status_code=303)
        web_session.end(response)
        return response

    @app.get("/app/language/{lang}", include_in_schema=False)
    async def switch_language(lang: str, request: Request) -> Response:
        back = _safe_next(request.query_params.get("next")) or "/app"
        response = RedirectResponse(back, status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
        return response

    @app.get("/app", include_in_schema=False)
    async def home(request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        return page.redirect("/app/my" if page.session.role is Role.EMPLOYEE else "/app/inbox")

    @app.get("/app/inbox", include_in_schema=False)
    async def inbox(request: Request) -> Response:
        page = await signed_in(request)
        q = request.query_params
        filters = {"kind": q.get("kind") or None, "stage": q.get("stage") or None,
                   "department": q.get("department") or None}
        body = await page.read("/inbox", {"limit": 200, **filters})
        items = body["items"]
        items.sort(key=lambda i: (i["due_at"] is None, i["due_at"] or "", i["id"]))  # overdue and soonest first
        return page.render("inbox.html", items=items, filters=filters, filter_form=[
            ("kind", "app.process", KINDS, page.t.kind), ("stage", "app.stage", None, None),
            ("department", "app.department", None, None)])

    @app.get("/app/cases", include_in_schema=False)
    async def cases(request: Request) -> Response:
        page = await signed_in(request)
        q = request.query_params
        filters = {"kind": q.get("kind"), "stage": q.get("stage"), "status": q.get("status"),
                   "employee_id": q.get("employee_id")}
        body = await page.read("/cases", {"limit": 100, **filters})
        return page.render("cases.html", items=body["items"], filters=filters, filter_form=[
            ("kind", "app.process", KINDS, page.t.kind), ("stage", "app.stage", None, None),
            ("status", "app.status", ("open", "completed", "withdrawn", "cancelled"), page.t.status),
            ("employee_id", "app.employee", None, None)])

    @app.api_route("/app/my", methods=["GET", "POST"], include_in_schema=False)
    async def my(request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        erasure_form = await _my_erasure(page, request)  # a post: her request to erase her data
        if isinstance(erasure_form, Response):
            return erasure_form
        body = await page.read("/cases", {"limit": 100})
        me = None
        if page.session.employee_id:
            found = await page.api("GET", f"/employees/{page.session.employee_id}")
            me = found.body if found.ok else None
        views = {}
        for case in body["items"]:
            process = process_of(case["workflow_id"])
            if process and case["status"] == "open":
                view = await page.api("GET", f"{process.api}/{case['workflow_id']}")
                views[case["workflow_id"]] = view.body if view.ok else None
        views |= await _erasure_views(page, body["items"])
        return page.render("my.html", items=body["items"], me=me, views=views, erasure_form=erasure_form,
                           done=request.query_params.get("done"))

    @app.get("/app/cases/{workflow_id}", include_in_schema=False)
    async def case_page(workflow_id: str, request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        detail = await page.api("GET", f"/cases/{quote(workflow_id, safe='')}")
        if not detail.ok:
            return page.problem(detail)
        process = process_of(workflow_id)
        view: Any = None
        if process is not None:
            read = await page.api("GET", f"{process.api}/{quote(workflow_id, safe='')}")
            view = read.body if read.ok else None
        batch_lines: dict[str, Any] = {}
        if process is not None and process.kind == "base_adjustment" and view is not None:
            for state in ("refused", "exception"):
                got = await page.api("GET", f"/base-adjustments/{quote(workflow_id, safe='')}/lines",
                                     params={"state": state, "limit": 200})
                batch_lines[state] = got.body["items"] if got.ok else []
        materials = None
        if process is not None and process.kind == "transfer":
            got = await page.api("GET", f"/transfers/{quote(workflow_id, safe='')}/materials")
            materials = got.body if got.ok else None
        signer = actions.signs_now(view, page.session.user, page.session.role)
        offered = actions.case_actions(request.app, process.kind, page.session.role, signer=signer) if process else []
        outcomes = {gate: sorted(o) for gate, o in OUTCOMES.items()} if process and process.kind == "offboarding" else {}
        return page.render("case.html", case=detail.body, view=view, actions=offered, materials=materials, signer=signer,
                           process=process, outcomes=outcomes, done=request.query_params.get("done"),
                           batch_lines=batch_lines,
                           rules={code: zh if page.lang == "zh" else en for code, (zh, en, _) in RULES.items()})

    @app.api_route("/app/base-adjustments", methods=["GET", "POST"], include_in_schema=False)
    async def base_adjustments(request: Request) -> Response:
        """The batches, newest first, and (for the maker) the upload that starts one: a dry run
        shows the file's problems row by row, a real start opens the batch's page."""
        page = await signed_in(request)
        shown: dict[str, Any] = {"checked": None, "refused": None, "general": [], "given": {}}
        if request.method == "POST":
            form = await request.form()
            file = form.get("file")
            given = {k: str(form.get(k) or "") for k in ("city", "effective_month", "reason")}
            shown["given"] = given
            if not isinstance(file, UploadFile) or not file.filename:
                shown["general"] = [page.t("app.base_adjustment_hint")]
            else:
                dry_run = form.get("dry_run") == "on"
                answer = await page.api("POST", "/base-adjustments", params={"dry_run": str(dry_run).lower()},
                                        data=given, files={"file": (file.filename, await file.read(),
                                                                    file.content_type or "application/octet-stream")},
                                        request_id=_request_id(form))
                rows = answer.body.get("detail") if answer.status == 422 and isinstance(answer.body, dict) else None
                if answer.ok and not dry_run:
                    return page.redirect(f"/app/cases/{quote(answer.body['workflow_id'], safe='')}")
                if answer.ok:
                    shown["checked"] = answer.body
                elif isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
                    shown["refused"] = rows
                else:
                    shown["general"] = [message_of(answer, page.t)]
        items = await page.read("/base-adjustments")
        return page.render("base_adjustments.html", items=items, request_id=uuid.uuid4().hex, **shown)

    @app.get("/app/base-adjustments/template.csv", include_in_schema=False)
    async def base_adjustment_template(request: Request) -> Response:
        page = await signed_in(request)
        answer = await page.fetch("/base-adjustments/template.csv")
        return page.finish(Response(answer.body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))

    @app.get("/app/base-adjustments/{workflow_id}/results.csv", include_in_schema=False)
    async def base_adjustment_results(workflow_id: str, request: Request) -> Response:
        page = await signed_in(request)
        answer = await page.fetch(f"/base-adjustments/{quote(workflow_id, safe='')}/results.csv")
        return page.finish(Response(answer.body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))

    @app.post("/app/cases/{workflow_id}/materials/{code}", include_in_schema=False)
    async def upload(workflow_id: str, code: str, request: Request) -> Response:
        """One document for a transfer, sent on to the API as the same multipart upload."""
        page = await signed_in(request)
        form = await request.form()
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return page.render("problem.html", status=400, message=page.t("app.upload_hint"))
        answer = await page.api("POST", f"/transfers/{quote(workflow_id, safe='')}/materials/{quote(code, safe='')}",
                                files={"file": (file.filename or "upload", await file.read(),
                                                file.content_type or "application/octet-stream")})
        if not answer.ok:
            return page.problem(answer)
        return page.redirect(f"/app/cases/{quote(workflow_id, safe='')}?done=upload")

    @app.get("/app/cases/{workflow_id}/evidence", include_in_schema=False)
    async def evidence(workflow_id: str, request: Request) -> Response:
        page = await signed_in(request)
        answer = await page.fetch(f"/cases/{quote(workflow_id, safe='')}/evidence")
        return page.finish(Response(answer.body, media_type="application/zip", headers={
            "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))

    @app.api_route("/app/cases/{workflow_id}/do/{slug}", methods=["GET", "POST"], include_in_schema=False)
    async def act(workflow_id: str, slug: str, request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        process = process_of(workflow_id)
        action = actions.case_action(request.app, process.kind, slug) if process else None
        if process is None or action is None or not await _may_offer(page, process, action, workflow_id):
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        fields = forms.fields_of(action.body, page.lang) if action.body else []
        confirm = None
        if slug == "approve" and process.kind in ("si_change", "base_adjustment"):
            confirm = await (_back_payment if process.kind == "si_change" else _batch_total)(page, workflow_id)
            fields = [f for f in fields if f.name != "confirm_total"] if confirm else fields
        if request.method == "GET":
            forms.fill(fields, {}, {})
            return page.render("action.html", action=action, fields=fields, general=[], workflow_id=workflow_id,
                               confirm=confirm, request_id=uuid.uuid4().hex)
        form = await request.form()
        body = forms.to_json(fields, form) if action.body else None
        if confirm:
            assert body is not None
            body["confirm_total"] = str(form.get("confirm_total") or "")
        answer = await page.api("POST", action.url(quote(workflow_id, safe="")), json=body,
                                request_id=_request_id(form))
        if answer.ok:
            return page.redirect(f"/app/cases/{quote(workflow_id, safe='')}?done={quote(slug)}")
        general = _refused(page, answer, fields, form)
        return page.render("action.html", action=action, fields=fields, general=general,
                           workflow_id=workflow_id, confirm=confirm, request_id=_request_id(form))

    @app.get("/app/new", include_in_schema=False)
    async def new_case(request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        return page.render("new.html", processes=actions.startable(request.app, page.session.role))

    @app.api_route("/app/new/{kind}", methods=["GET", "POST"], include_in_schema=False)
    async def start(kind: str, request: Request) -> Response:
        page = await signed_in(request)
        assert page.session is not None
        action = actions.start_action(request.app, kind)
        if action is None or action.body is None or page.session.role not in action.roles:
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        fields = forms.fields_of(action.body, page.lang)
        own = page.session.employee_id if page.session.role is Role.EMPLOYEE else None
        if request.method == "GET":  # a link may fill the form in (her notice's date, on a resignation)
            given = {k: v for k, v in request.query_params.items() if v}
            forms.fill(fields, {**given, **({"employee_id": own} if own else {})}, {})
            return page.render("start.html", action=action, kind=kind, fields=fields, general=[],
                               request_id=uuid.uuid4().hex)
        form = await request.form()
        body = forms.to_json(fields, form)
        answer = await page.api("POST", action.path, json=body, request_id=_request_id(form))
        if answer.ok:
            started = answer.body.get("workflow_id") if isinstance(answer.body, dict) else None
            return page.redirect(f"/app/cases/{quote(started, safe='')}?done=start" if started else "/app")
        general = _refused(page, answer, fields, form)
        return page.render("start.html", action=action, kind=kind, fields=fields,
                           general=general, request_id=_request_id(form))

    @app.post("/app/tasks/{task_id}/done", include_in_schema=False)
    async def task_done(task_id: int, request: Request) -> Response:
        page = await signed_in(request)
        form = await request.form()
        answer = await page.api("POST", f"/tasks/{task_id}/done", json={"note": str(form.get("note") or "") or None},
                                request_id=_request_id(form))
        return page.redirect("/app/inbox") if answer.ok else page.problem(answer)

    @app.api_route("/app/records", methods=["GET", "POST"], include_in_schema=False)
    async def records(request: Request) -> Response:
        """What an employee's departure must settle: her records, and a form to add one (the
        API decides which role may record which kind)."""
        page = await signed_in(request)
        employee = (request.query_params.get("employee_id") or "").strip()
        fields = forms.fields_of(RecordIn, page.lang)
        assert page.session is not None
        for f in fields:  # the kinds her role records, to choose from
            if f.name == "kind":
                f.kind, f.options = "select", [k for k, roles in RECORD_OWNERS.items() if page.session.role in roles]
        general: list[str] = []
        if request.method == "POST" and employee:
            form = await request.form()
            answer = await page.api("POST", f"/employees/{quote(employee, safe='')}/records",
                                    json=forms.to_json(fields, form), request_id=_request_id(form))
            if answer.ok:
                return page.redirect(f"/app/records?employee_id={quote(employee)}&done=1")
            general = _refused(page, answer, fields, form)
        else:
            forms.fill(fields, {}, {})
        items = await page.read(f"/employees/{quote(employee, safe='')}/records") if employee else []
        return page.render("records.html", items=items, employee=employee, fields=fields, general=general,
                           filters={"employee_id": employee}, filter_form=[("employee_id", "app.employee", None, None)],
                           done=request.query_params.get("done"), request_id=uuid.uuid4().hex)

    @app.get("/app/receivables", include_in_schema=False)
    async def receivables(request: Request) -> Response:
        page = await signed_in(request)
        chosen = request.query_params.get("status") or "open"
        body = await page.read("/receivables", {"status": chosen, "limit": 200})
        return page.render("receivables.html", items=body["items"], chosen=chosen)

    @app.get("/app/staff", include_in_schema=False)
    async def staff(request: Request) -> Response:
        page = await signed_in(request)
        body = await page.read("/staff")
        return page.render("staff.html", items=body, roles=[r.value for r in Role if r in STAFF],
                           general=[], request_id=uuid.uuid4().hex)

    @app.post("/app/staff", include_in_schema=False)
    async def put_staff(request: Request) -> Response:
        page = await signed_in(request)
        form = await request.form()
        user = str(form.get("user_id") or "").strip()
        body = {"display_name": str(form.get("display_name") or "").strip(), "role": form.get("role"),
                "level": int(str(form.get("level") or "1")) if str(form.get("level") or "1").isascii() and str(form.get("level") or "1").isdigit() else 0,
                "email": str(form.get("email") or "").strip() or None, "language": form.get("language") or "zh",
                "employee_id": str(form.get("employee_id") or "").strip() or None,
                "unit_code": str(form.get("unit_code") or "").strip() or None}
        answer = await page.api("PUT", f"/staff/{quote(user, safe='') or '-'}", json=body,
                                request_id=_request_id(form))
        if answer.ok:
            return page.redirect("/app/staff")
        listed = await page.api("GET", "/staff")
        return page.render("staff.html", items=listed.body if listed.ok else [],
                           roles=[r.value for r in Role if r in STAFF], general=[message_of(answer, page.t)],
                           request_id=_request_id(form))

    @app.api_route("/app/delegations", methods=["GET", "POST"], include_in_schema=False)
    async def delegations(request: Request) -> Response:
        """Her delegations, given and received, and a form to give one: until a day's end, in China
        time, for the processes ticked (none: all)."""
        page = await signed_in(request)
        general: list[str] = []
        if request.method == "POST":
            form = await request.form()
            until = str(form.get("until") or "")
            try:
                ends = dt.datetime.combine(dt.date.fromisoformat(until) + dt.timedelta(days=1), dt.time(), CHINA)
            except ValueError:
                general = [page.t("app.delegation_until_hint")]
            else:
                body = {"delegate": str(form.get("delegate") or "").strip(), "ends_at": ends.isoformat(),
                        "processes": [str(p) for p in form.getlist("processes")],
                        "reason": str(form.get("reason") or "").strip()}
                answer = await page.api("POST", "/delegations", json=body, request_id=_request_id(form))
                if answer.ok:
                    return page.redirect("/app/delegations")
                general = [message_of(answer, page.t)]
        items = await page.read("/delegations")
        return page.render("delegations.html", items=items, kinds=KINDS, general=general, request_id=uuid.uuid4().hex)

    @app.post("/app/delegations/{delegation_id}/revoke", include_in_schema=False)
    async def revoke_delegation(delegation_id: int, request: Request) -> Response:
        page = await signed_in(request)
        form = await request.form()
        answer = await page.api("POST", f"/delegations/{delegation_id}/revoke", request_id=_request_id(form))
        return page.redirect("/app/delegations") if answer.ok else page.problem(answer)

    @app.get("/app/{what}/import", include_in_schema=False)
    async def import_form(what: str, request: Request) -> Response:
        page = await signed_in(request)
        if what not in IMPORTS:
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        return page.render("import.html", what=what, texts=IMPORTS[what], report=None, refused=None, general=[],
                           request_id=uuid.uuid4().hex)

    @app.post("/app/{what}/import", include_in_schema=False)
    async def import_file(what: str, request: Request) -> Response:
        """The clerk's file, sent on to the API's import as the same multipart upload; its report
        (or its refusal, row by row) shown as a table."""
        page = await signed_in(request)
        if what not in IMPORTS:
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        shown: dict[str, Any] = {"what": what, "texts": IMPORTS[what]}
        form = await request.form()
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return page.render("import.html", **shown, report=None, refused=None,
                               general=[page.t(IMPORTS[what].hint)], request_id=_request_id(form))
        dry_run = form.get("dry_run") == "on"
        answer = await page.api("POST", f"/{what}/import", params={"dry_run": str(dry_run).lower()},
                                files={"file": (file.filename, await file.read(),
                                                file.content_type or "application/octet-stream")},
                                request_id=_request_id(form))
        if answer.ok:
            return page.render("import.html", **shown, report=answer.body, refused=None, general=[],
                               request_id=uuid.uuid4().hex)
        rows = answer.body.get("detail") if answer.status == 422 and isinstance(answer.body, dict) else None
        if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
            return page.render("import.html", **shown, report=None, refused=rows, general=[],
                               request_id=uuid.uuid4().hex)
        return page.render("import.html", **shown, report=None, refused=None, general=[message_of(answer, page.t)],
                           request_id=uuid.uuid4().hex)

    @app.get("/app/{what}/import/template.csv", include_in_schema=False)
    async def import_template(what: str, request: Request) -> Response:
        page = await signed_in(request)
        if what not in IMPORTS:
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        answer = await page.fetch(f"/{what}/import/template.csv")
        return page.finish(Response(answer.body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))

    @app.get("/app/policy-notices", include_in_schema=False)
    async def policy_notices(request: Request) -> Response:
        page = await signed_in(request)
        body = await page.read("/policy/notices", {"limit": 100})
        return page.render("policy_notices.html", items=body["items"])

    @app.get("/app/schedules", include_in_schema=False)
    async def schedules(request: Request) -> Response:
        page = await signed_in(request)
        body = await page.read("/schedules")
        return page.render("schedules.html", items=body["items"], general=[body["note"]] if body["note"] else [])

    @app.get("/app/notices", include_in_schema=False)
    async def notices(request: Request) -> Response:
        page = await signed_in(request)
        body = await page.read("/me/notifications", {"limit": 100})
        return page.render("notices.html", items=body["items"])

    @app.get("/app/reports", include_in_schema=False)
    async def reports(request: Request) -> Response:
        page = await signed_in(request)
        body = await page.read("/reports/monthly")
        return page.render("reports.html", items=body if isinstance(body, list)
                           else body.get("items", []))

    @app.get("/app/reports/{month}", include_in_schema=False)
    async def report_link(month: str, request: Request) -> Response:
        """The month's address as the list and the notices give it; the page sits one level down so
        its relative drill-down links resolve the same way here as under /reports/monthly/."""
        return RedirectResponse(f"/app/reports/{quote(month, safe='')}/page", status_code=303)

    @app.get("/app/reports/{month}/page", include_in_schema=False)
    async def report(month: str, request: Request) -> Response:
        page = await signed_in(request)
        answer = await page.fetch(f"/reports/monthly/{quote(month, safe='')}/page")
        if answer.status == 202:  # not computed yet: the API's page saying it is being computed
            return page.finish(Response(answer.body, status_code=202, media_type="text/html; charset=utf-8"))
        return _report_html(page, answer)

    @app.get("/app/reports/{month}/members.html", include_in_schema=False)
    async def report_members(month: str, request: Request) -> Response:
        page = await signed_in(request)
        cut = {k: v for k, v in request.query_params.items() if k in ("metric", "dimension", "limit")}
        return _report_html(page, await page.fetch(f"/reports/monthly/{quote(month, safe='')}/members.html", cut))

    @app.get("/app/statistics", include_in_schema=False)
    async def statistics(request: Request) -> Response:
        page = await signed_in(request)
        period = _given(request, PERIOD)
        body = await page.read("/transfers/statistics", period)
        charts = await run_in_threadpool(statistics_charts.draw, body, page.t)
        return page.render("statistics.html", stats=body, charts=charts, period=period,
                           behind=lambda **cut: "/app/statistics/cases?" + urlencode({**period, **cut}))

    @app.get("/app/statistics/cases", include_in_schema=False)
    async def statistics_cases(request: Request) -> Response:
        page = await signed_in(request)
        cut = _given(request, SLICE)
        body = await page.read("/transfers/statistics/cases", cut)
        back = "/app/statistics?" + urlencode(_given(request, PERIOD))
        return page.render("statistics_cases.html", items=body["items"], total=body["total"], cut=cut, back=back)

    @app.api_route("/app/transfers/review", methods=["GET", "POST"], include_in_schema=False)
    async def review_batch(request: Request) -> Response:
        page = await signed_in(request)
        results = None
        if request.method == "POST":
            form = await request.form()
            chosen = form.getlist("workflow_id")
            approve = form.get("decision") == "approve"
            items = [{"workflow_id": wf, "approve": approve, "note": str(form.get("note") or "") or None,
                      **({} if approve else {"reason_code": str(form.get("reason_code") or "")})}
                     for wf in chosen]
            answer = await page.api("POST", "/transfers/review-batch", json={"items": items},
                                    request_id=_request_id(form))
            if not answer.ok:
                results = [{"workflow_id": "", "applied": False, "said": message_of(answer, page.t)}]
            else:
                results = [_line_words(line, page.t) for line in answer.body]
        waiting = await page.api("GET", "/cases", params={"kind": "transfer", "stage": "awaiting_review",
                                                          "status": "open", "limit": 200})
        return page.render("review.html", items=waiting.body["items"] if waiting.ok else [], results=results,
                           reasons=REJECTION_REASONS, request_id=uuid.uuid4().hex)

    # After the imports: /app/employees/import is the import's page, not an employee's.
    @app.get("/app/employees/{employee_id}", include_in_schema=False)
    async def employee(employee_id: str, request: Request) -> Response:
        """Her record as the API shows it to the reader (masked by role; a full value is logged by the
        API, with the case she was opened from as its purpose), and the export for those who may."""
        page = await signed_in(request)
        assert page.session is not None
        purpose = request.query_params.get("purpose") or None
        answer = await page.api("GET", f"/employees/{quote(employee_id, safe='')}", params={"purpose": purpose})
        if not answer.ok:
            return page.problem(answer)
        return page.render("employee.html", person=answer.body, purpose=purpose,
                           may_export=page.session.role in EXPORTERS)

    @app.get("/app/employees/{employee_id}/export", include_in_schema=False)
    async def employee_export(employee_id: str, request: Request) -> Response:
        page = await signed_in(request)
        return _zip(page, await page.fetch(f"/employees/{quote(employee_id, safe='')}/export"))

    @app.get("/app/my/export", include_in_schema=False)
    async def my_export(request: Request) -> Response:
        page = await signed_in(request)
        return _zip(page, await page.fetch("/me/export"))

    @app.get("/app/privacy/access-log", include_in_schema=False)
    async def access_log(request: Request) -> Response:
        """The log, filtered by the form (a day's dates in China time, both ends included), newest
        first, a page at a time; a filter the API refuses is said above the table."""
        page = await signed_in(request)
        filters = {k: (request.query_params.get(k) or "").strip() for k in ACCESS_FILTERS}
        cursor = request.query_params.get("cursor") or None
        answer = await page.api("GET", "/privacy/access-log", params={**_log_query(filters), "cursor": cursor,
                                                                      "limit": 50})
        if answer.status == 422:
            items, next_cursor, general = [], None, [message_of(answer, page.t)]
        elif not answer.ok:
            return page.problem(answer)
        else:
            items, next_cursor, general = answer.body["items"], answer.body["next_cursor"], []
        given = {k: v for k, v in filters.items() if v}
        return page.render("access_log.html", items=items, filters=filters, general=general,
                           kinds={k: page.t(f"app.access_kind_{k}") for k in ACCESS_KINDS},
                           csv_link="/app/privacy/access-log.csv" + (f"?{urlencode(given)}" if given else ""),
                           next_link=f"/app/privacy/access-log?{urlencode({**given, 'cursor': next_cursor})}"
                           if next_cursor else None)

    @app.get("/app/privacy/access-log.csv", include_in_schema=False)
    async def access_log_csv(request: Request) -> Response:
        page = await signed_in(request)
        filters = {k: (request.query_params.get(k) or "").strip() for k in ACCESS_FILTERS}
        answer = await page.fetch("/privacy/access-log.csv", _log_query(filters))
        return page.finish(Response(answer.body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))

    _erasure_pages(app, signed_in)


ACCESS_FILTERS = ("employee_id", "actor", "what", "since", "until")


def _log_query(filters: dict[str, str]) -> dict[str, str]:
    """The access log's filter as the API takes it: a date is its day in China time (``until``
    takes in the whole day); anything else goes as typed, for the API to name what is wrong."""
    query = {k: v for k, v in filters.items() if v}
    for key, days in (("since", 0), ("until", 1)):
        try:
            day = dt.date.fromisoformat(query[key]) + dt.timedelta(days=days)
        except (KeyError, ValueError):
            continue
        query[key] = dt.datetime.combine(day, dt.time(), CHINA).isoformat()
    return query


def _zip(page: Page, answer: Answer) -> Response:
    """A ZIP the API made, handed on as it is, as an attachment."""
    return page.finish(Response(answer.body, media_type="application/zip", headers={
        "Content-Disposition": answer.headers.get("content-disposition", "attachment")}))


# The statistics' filter (period and department), and with it one figure's bar (``db.transfer_stats.Slice``).
PERIOD = ("from", "to", "department")
SLICE = (*PERIOD, "month", "origin", "destination", "rejection_reason")


def _report_html(page: Page, answer: Answer) -> Response:
    """A report page as the API rendered it, with the API's stricter policy (it loads nothing)."""
    response = Response(answer.body, media_type="text/html; charset=utf-8")
    page.finish(response)
    response.headers["Content-Security-Policy"] = answer.headers.get("content-security-policy", CSP)
    return response


def _given(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    """Those of ``keys`` the reader gave in the query; empty ones left out."""
    return {k: v for k, v in request.query_params.items() if k in keys and v}


class Leave(Exception):
    """Leave the handler with ``response`` (the sign-in page for a visitor, a refused form)."""

    def __init__(self, response: Response) -> None:
        super().__init__("leave the page")
        self.response = response


def _refused(page: Page, answer: Answer, fields: list[forms.Field], form: Any) -> list[str]:
    """The form again as posted, each refused field with the API's words beside it; the refusals
    of no field on the form (and a refusal that names none) are listed above it."""
    by_field, general = forms.refusals_by_field(answer.body)
    forms.fill(fields, forms.posted_values(form), by_field)
    general += [m for name, m in by_field.items() if not _names(fields, name)]
    return general if general or by_field else [message_of(answer, page.t)]


def _names(fields: list[forms.Field], name: str) -> bool:
    return any(f.name == name or _names(f.children, name) for f in fields)


def _record_sign_in(session: Any, who: Any, via: str) -> None:
    append(session, AuditEntry(actor=who.user, actor_role=who.role.value, action="session.signed_in",
                               after={"via": via}))


def _sign_in_refused(page: Page, key: str, problem: SignInProblem) -> Response:
    """The refusal in words (the provider's own words go to the log only); the attempt is over."""
    log.warning("sign-in through %s refused: %s", key, problem)
    status = 502 if problem.code == UNAVAILABLE else 403
    response = page.render("problem.html", status=status, message=page.t(f"app.sso_{problem.code}"))
    sso.forget(response)
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of this site, never another address (an open redirect)."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return ""
    return target


async def _may_offer(page: Page, process: Process, action: actions.Action, workflow_id: str) -> bool:
    """Her role may call the action, or it is a routed decision and the case's current step names her."""
    assert page.session is not None
    if page.session.role in action.roles:
        return True
    if not action.routed:
        return False
    read = await page.api("GET", f"{process.api}/{quote(workflow_id, safe='')}")
    return read.ok and actions.signs_now(read.body, page.session.user, page.session.role)


async def _back_payment(page: Page, workflow_id: str) -> dict[str, Any] | None:
    """For a back-payment, the figure the checker confirms: total, in words, what it counts."""
    read = await page.api("GET", f"/si-changes/{quote(workflow_id, safe='')}")
    if not read.ok or not isinstance(read.body, dict):
        return None
    view = read.body
    if (view.get("facts") or {}).get("kind") != "back_payment":
        return None
    estimate = view.get("estimate") or {}
    try:
        total = Decimal(str(estimate.get("total")))
    except (InvalidOperation, ValueError):
        return None
    return {"total": f"{total:,.2f}", "raw": f"{total:.2f}", "words": money_words.in_words(total),
            "months": estimate.get("months") or [], "missing": estimate.get("missing") or [],
            "employer": estimate.get("employer_total"), "employee": estimate.get("employee_total"),
            "texts": "back_payment"}


async def _batch_total(page: Page, workflow_id: str) -> dict[str, Any] | None:
    """For a base adjustment, the back-payment total of its lines to declare, which the checker confirms."""
    read = await page.api("GET", f"/base-adjustments/{quote(workflow_id, safe='')}")
    if not read.ok or not isinstance(read.body, dict):
        return None
    totals = read.body.get("totals") or {}
    try:
        total = Decimal(str(totals.get("back_pay_total")))
    except (InvalidOperation, ValueError):
        return None
    return {"total": f"{total:,.2f}", "raw": f"{total:.2f}", "words": money_words.in_words(total),
            "months": totals.get("back_pay_months") or [], "missing": totals.get("missing_rates") or [],
            "employer": totals.get("back_pay_employer"), "employee": totals.get("back_pay_employee"),
            "texts": "base_adjustment"}


# ------------------------------------------------------------------ erasure of personal data (PIPL art. 47)
# Its case is not one of ``PROCESSES`` (no delegation covers it, no generic start form offers it):
# compliance asks and decides on pages of its own, the employee who has left asks on her own page.
ERASURE_OPEN = ("awaiting_approval", "held")  # the stages a request may be withdrawn in


def _erasure_pages(app: FastAPI, signed_in: Callable[[Request], Awaitable[Page]]) -> None:
    @app.api_route("/app/erasures", methods=["GET", "POST"], include_in_schema=False)
    async def erasures(request: Request) -> Response:
        """The erasure requests, newest first, and compliance's form to ask for one."""
        page = await signed_in(request)
        assert page.session is not None
        if page.session.role not in (Role.COMPLIANCE, Role.ADMIN):
            return page.render("problem.html", status=403, message=page.t("app.forbidden"))
        fields = forms.fields_of(ErasureIn, page.lang)
        general: list[str] = []
        request_id = uuid.uuid4().hex
        if request.method == "POST":
            form = await request.form()
            request_id = _request_id(form)
            answer = await page.api("POST", "/erasures", json=forms.to_json(fields, form), request_id=request_id)
            if answer.ok:
                return page.redirect(f"/app/erasures/{quote(answer.body['workflow_id'], safe='')}?done=ask")
            general = _refused(page, answer, fields, form)
        else:
            forms.fill(fields, {}, {})
        listed = await page.read("/cases", {"kind": "erasure", "limit": 100})
        return page.render("erasures.html", items=listed["items"], views=await _erasure_views(page, listed["items"]),
                           fields=fields, general=general, request_id=request_id)

    @app.get("/app/erasures/{workflow_id}", include_in_schema=False)
    async def erasure_case(workflow_id: str, request: Request) -> Response:
        page = await signed_in(request)
        return await _erasure_case(page, workflow_id, done=request.query_params.get("done"))

    @app.post("/app/erasures/{workflow_id}/{slug}", include_in_schema=False)
    async def erasure_act(workflow_id: str, slug: str, request: Request) -> Response:
        """Approve or reject (``decide``), or take the request back (``withdraw``): the API judges
        who may; its refusal is said on the case's page."""
        page = await signed_in(request)
        if slug not in ("decide", "withdraw"):
            return page.render("problem.html", status=404, message=page.t("app.not_found"))
        form = await request.form()
        reason = str(form.get("reason") or "").strip() or None
        body: dict[str, Any] = {"reason": reason}
        if slug == "decide":
            body["approve"] = form.get("approve") == "true"
        answer = await page.api("POST", f"/erasures/{quote(workflow_id, safe='')}/{slug}", json=body,
                                request_id=_request_id(form))
        if answer.ok:
            return page.redirect(f"/app/erasures/{quote(workflow_id, safe='')}?done={slug}")
        return await _erasure_case(page, workflow_id, general=[message_of(answer, page.t)], reason=reason or "")


async def _erasure_case(page: Page, workflow_id: str, *, done: str | None = None, general: list[str] | None = None,
                        reason: str = "") -> Response:
    """One erasure request: the verdict and its grounds, the retention periods with their legal
    source, the decision and what the erasure did; the decision for compliance other than the one
    who asked, the withdrawal for the one who asked (or for her, when she asked)."""
    assert page.session is not None
    path = quote(workflow_id, safe="")
    detail = await page.api("GET", f"/cases/{path}")
    if not detail.ok:
        return page.problem(detail)
    read = await page.api("GET", f"/erasures/{path}")
    if not read.ok:
        return page.problem(read)
    view, s = read.body, page.session
    may_decide = (s.role is Role.COMPLIANCE and view["stage"] == "awaiting_approval"
                  and s.user != view["requested_by"] and s.employee_id != view["employee_id"])
    hers = view["on_her_request"] and s.role is Role.EMPLOYEE and s.employee_id == view["employee_id"]
    may_withdraw = view["stage"] in ERASURE_OPEN and (s.user == view["requested_by"] or hers)
    settings: Settings = page.request.app.state.settings
    return page.render("erasure.html", case=detail.body, view=view, may_decide=may_decide, may_withdraw=may_withdraw,
                       general=general or [], done=done, reason=reason, request_id=uuid.uuid4().hex,
                       cache_seconds=int(settings.person_key_cache_seconds))


async def _erasure_views(page: Page, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The view of each erasure case listed (who asked, the verdict, the held-until date)."""
    views: dict[str, Any] = {}
    for case in items:
        if case.get("kind") == "erasure":
            got = await page.api("GET", f"/erasures/{quote(case['workflow_id'], safe='')}")
            views[case["workflow_id"]] = got.body if got.ok else None
    return views


async def _my_erasure(page: Page, request: Request) -> Response | dict[str, Any]:
    """Her request to erase her own data, posted from her page: off to her request's state on her
    page when the API takes it; otherwise the form again with the refusal."""
    assert page.session is not None
    fields = forms.fields_of(ErasureIn, page.lang, skip=("employee_id",))
    if request.method != "POST":
        forms.fill(fields, {}, {})
        return {"fields": fields, "general": [], "request_id": uuid.uuid4().hex}
    form = await request.form()
    body = {"employee_id": page.session.employee_id or "", **forms.to_json(fields, form)}
    answer = await page.api("POST", "/erasures", json=body, request_id=_request_id(form))
    if answer.ok:
        return page.redirect("/app/my?done=erasure#erasure")
    return {"fields": fields, "general": _refused(page, answer, fields, form), "request_id": _request_id(form)}
