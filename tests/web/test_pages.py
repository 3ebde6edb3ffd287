"""The pages over HTTP (no browser): sign-in and its session rules, forms that post to the API
and show its refusals, and what each role is offered."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx

from domain.roles import Role
from tests.processes.support import add_employee, eventually
from tests.web.conftest import EMPLOYEE, as_person


async def test_root_offers_the_sign_in_in_chinese(web) -> None:
    r = await web.get("/")
    assert r.status_code == 200 and str(r.url).endswith("/app/sign-in")
    assert "登录 hrflow" in r.text and 'lang="zh-CN"' in r.text
    assert "李娜" in r.text and "王芳" in r.text


async def test_hr_starts_a_change_and_sees_the_case(web) -> None:
    csrf = await as_person(web, "hr.li", "hr_specialist")
    r = await web.get("/app/new/si_change")
    assert r.status_code == 200, r.text
    r = await web.post("/app/new/si_change", data={
        "_csrf": csrf, "_request_id": "abc123", "employee_id": EMPLOYEE, "kind": "back_payment", "base": "10000.00",
        "months": "2026-08, 2026-09, 2026-10", "effective_month": "2026-11", "reason": "补缴"})
    print(r.status_code, r.url)
    assert r.status_code == 200, r.text
    assert "/app/cases/si-change-" in str(r.url), r.text[:3000]


async def test_a_post_without_the_form_token_does_nothing(web, site, auth) -> None:
    await as_person(web, "hr.li", "hr_specialist")
    r = await web.post("/app/new/si_change", data={"employee_id": EMPLOYEE, "kind": "enrollment",
                                                   "effective_month": "2026-11", "reason": "forged"})
    assert r.status_code == 403 and "表单已过期" in r.text
    r = await web.post("/app/new/si_change", headers={"origin": "https://evil.example"}, data={
        "_csrf": "0" * 32, "employee_id": EMPLOYEE, "kind": "enrollment", "effective_month": "2026-11",
        "reason": "forged"})
    assert r.status_code == 403
    cases = await web.get("/cases", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert cases.json()["items"] == []


async def test_sign_in_goes_back_only_to_a_page_of_this_site(web) -> None:
    # Each sign-in is over the session before it, as another person: the new one is the one in use.
    for person, target, landing in (("hr_specialist:hr.li", "/app/cases", "/app/cases"),
                                    ("hr_manager:mgr.wang", "https://evil.example/", "/app/inbox"),
                                    ("hr_specialist:hr.li", "//evil.example/x", "/app/inbox")):
        r = await web.post("/app/sign-in", data={"person": person, "next": target})
        assert r.status_code == 200 and r.url.path == landing, (target, r.url)
        assert f"<strong>{person.split(':')[1]}</strong>" in r.text


async def test_a_posted_role_is_not_believed(web) -> None:
    r = await web.post("/app/sign-in", data={"person": "admin:hr.li"})  # hr.li is an HR specialist
    assert r.url.path == "/app/sign-in" and "hrflow_session" not in web.cookies


async def test_an_idle_session_ends(web, site, web_settings, monkeypatch) -> None:
    await as_person(web, "hr.li", "hr_specialist")
    assert (await web.get("/app/inbox")).url.path == "/app/inbox"
    import time as clock
    later = clock.time() + web_settings.session_idle_minutes * 60 + 1
    monkeypatch.setattr("api.web.session.time.time", lambda: later)
    r = await web.get("/app/inbox")
    assert r.url.path == "/app/sign-in"


async def test_an_employee_sees_only_her_own_cases(web, site, auth, session_factory) -> None:
    add_employee(session_factory, "E2002", name="李梅", resident_id_number="110105198001010024")
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post("/si-changes", headers=auth(Role.HR_SPECIALIST, "hr.li"), json={
            "employee_id": "E2002", "kind": "enrollment", "base": "10000.00", "effective_month": "2026-11",
            "reason": "new hire"})
        assert r.status_code == 201, r.text
        theirs = r.json()["workflow_id"]
    await as_person(web, EMPLOYEE, "employee")
    r = await web.get(f"/app/cases/{theirs}")
    assert r.status_code == 404 and "李梅" not in r.text and "E2002" not in r.text.replace(theirs, "")
    mine = await web.get("/app/my")
    assert theirs not in mine.text


async def test_the_language_switch_keeps_the_page(web) -> None:
    await as_person(web, "hr.li", "hr_specialist")
    r = await web.get("/app/language/en", params={"next": "/app/cases"})
    assert r.url.path == "/app/cases" and 'lang="en"' in r.text and "Cases" in r.text
    r = await web.get("/app/cases", headers={"accept-language": "zh-CN"})
    assert 'lang="en"' in r.text  # her choice outlives the browser's header
    r = await web.get("/app/language/zh", params={"next": "/app/cases"})
    assert 'lang="zh-CN"' in r.text and "案件" in r.text


async def test_a_report_not_yet_computed_is_computed_on_first_request(web, site, auth) -> None:
    month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    path = f"/reports/monthly/{month:%Y-%m}/page"
    async with httpx.AsyncClient(base_url=site) as api:
        first = await api.get(path, headers=auth(Role.HR_MANAGER, "mgr.wang"))
        assert first.status_code == 202 and "已开始计算" in first.text, first.text
        answered = await eventually(lambda: _status(api, path, auth), timeout=60)
    assert answered == 200

    # In the web app the month's page sits where its relative drill-down links resolve inside the app.
    await as_person(web, "mgr.wang", "hr_manager")
    r = await web.get(f"/app/reports/{month:%Y-%m}")
    assert r.status_code == 200 and r.url.path == f"/app/reports/{month:%Y-%m}/page"
    link = re.search(r'href="(members\.html\?metric=company_attrition&amp;dimension=all)"', r.text)
    assert link is not None, r.text[:2000]
    drill = await web.get(f"/app/reports/{month:%Y-%m}/" + link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200 and "公司离职率" in drill.text and "全公司 company" in drill.text
    assert drill.headers["content-security-policy"].startswith("default-src 'none'")
    back = re.search(r'<a href="(page)">', drill.text)
    assert back is not None  # back to the month's page, relative, as from /reports/monthly/


async def _status(api: httpx.AsyncClient, path: str, auth) -> int | None:
    r = await api.get(path, headers=auth(Role.HR_MANAGER, "mgr.wang"))
    return r.status_code if r.status_code == 200 else None


def test_every_text_a_template_asks_for_exists() -> None:
    from api.web.texts import Texts

    templates = Path(__file__).resolve().parents[2] / "api" / "web" / "templates"
    said = r't\("([a-z_]+\.[a-z_]+)"\)|set (?:heading|empty) = "([a-z_]+\.[a-z_]+)"'
    keys = {k for f in templates.glob("*.html") for pair in re.findall(said, f.read_text()) for k in pair if k}
    keys |= {k for k in re.findall(r'"(app\.[a-z_]+)"', (templates.parent / "pages.py").read_text())}
    for lang in ("zh", "en"):
        missing = []
        for key in sorted(keys):
            try:
                Texts(lang)(key)
            except KeyError:
                missing.append(key)
        assert missing == [], lang


ROLES = [("hr.li", "hr_specialist"), ("mgr.wang", "hr_manager"), ("fin.zhao", "finance"), ("comp.sun", "compliance"),
         ("it.zhou", "it"), ("ops.wu", "admin"), (EMPLOYEE, "employee")]


async def test_every_page_of_the_menu_opens_for_its_role(web, site, auth) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post("/si-changes", headers=auth(Role.HR_SPECIALIST, "hr.li"), json={
            "employee_id": EMPLOYEE, "kind": "enrollment", "base": "10000.00", "effective_month": "2026-11",
            "reason": "new hire"})
        assert r.status_code == 201, r.text
        case = r.json()["workflow_id"]
    for user, role in ROLES:
        await as_person(web, user, role)
        home = await web.get("/app")
        menu = re.findall(r'<nav aria-label="[^"]+">(.*?)</nav>', home.text, re.DOTALL)[0]
        for href in [*re.findall(r'href="(/app/[^"]*)"', menu), f"/app/cases/{case}"]:
            r = await web.get(href)
            assert r.status_code == 200, (role, href, r.text[-500:])
            assert 'lang="zh-CN"' in r.text and "internal_error" not in r.text, (role, href)
            if href == "/app/schedules":  # the time-skipping server runs no schedules: the page says so
                assert "此 Temporal 服务不运行定时任务" in r.text, r.text[-1500:]


async def test_statistics_draw_each_figure_and_lead_to_the_cases_behind_it(web, session_factory) -> None:
    from db.models import Transfer, TransferReview

    filed = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    with session_factory.begin() as s:
        for wf, origin in (("transfer-E1001-1", "贵州"), ("transfer-E1001-2", "四川")):
            s.add(Transfer(workflow_id=wf, employee_id=EMPLOYEE, department="研发部", origin_province=origin,
                           origin_city="贵阳", destination_province="北京", destination_city="北京", types=["pension"],
                           reason="调动", applicant=EMPLOYEE, stage="awaiting_review", created_at=filed, updated_at=filed))
        s.flush()
        s.add(TransferReview(workflow_id="transfer-E1001-2", decision="rejected", reason_code="missing_document",
                             actor="hr.li", at=filed))
    await as_person(web, "comp.sun", "compliance")
    r = await web.get("/app/statistics")
    assert r.status_code == 200, r.text
    assert r.text.count("<svg") == 4  # per month, origins, destinations, rejection reasons (no type completed yet)
    assert "缺少材料" in r.text and "missing_document" not in re.sub(r'href="[^"]*"', "", r.text)
    links = dict(re.findall(r'<td>([^<]+)</td><td><a href="(/app/statistics/cases\?[^"]+)"', r.text))
    assert set(links) >= {"贵州", "四川", "北京", "缺少材料"}
    behind = await web.get(links["缺少材料"].replace("&amp;", "&"))
    assert behind.status_code == 200 and "transfer-E1001-2" in behind.text and "transfer-E1001-1" not in behind.text
    both = await web.get(links["北京"].replace("&amp;", "&"))
    assert "transfer-E1001-1" in both.text and "transfer-E1001-2" in both.text and "显示 2 件，共 2 件" in both.text
    later = await web.get("/app/statistics", params={"from": dt.date.today().isoformat()})
    assert "<svg" not in later.text and "没有记录" in later.text  # the same filter on figures and their cases


async def test_batch_review_says_each_refusal_in_words(web) -> None:
    csrf = await as_person(web, "hr.li", "hr_specialist")
    r = await web.post("/app/transfers/review", data={"_csrf": csrf, "_request_id": "batch-words-1",
                                                      "workflow_id": ["transfer-E9999-2026-11-01"],
                                                      "decision": "approve"})
    assert r.status_code == 200, r.text
    line = re.search(r"<li>transfer-E9999-2026-11-01：(.*?)</li>", r.text)
    assert line is not None, r.text[:3000]
    assert "未办理" in line.group(1) and "没有进行中的案件 transfer-E9999-2026-11-01" in line.group(1)
    assert "not_found" not in line.group(1)  # the code is for programs, not for the clerk


async def test_hr_imports_a_spreadsheet_checked_first_and_refused_row_by_row(web) -> None:
    from tests.platform.test_employee_import import csv_file, line

    csrf = await as_person(web, "hr.li", "hr_specialist")
    page = await web.get("/app/employees/import")
    assert page.status_code == 200 and "导入员工" in page.text and "只检查，不导入" in page.text
    template = await web.get("/app/employees/import/template.csv")
    assert template.status_code == 200 and template.content.startswith("\ufeff员工编号".encode())

    good = csv_file(line("N1", "陈一", 901), line("N2", "陈二", 902, manager="N1"))
    checked = await web.post("/app/employees/import", data={"_csrf": csrf, "_request_id": "imp-1", "dry_run": "on"},
                             files={"file": ("员工.csv", good, "text/csv")})
    assert checked.status_code == 200 and "检查完毕：共 2 行，2 行通过，尚未导入。" in checked.text, checked.text[:2000]

    bad = csv_file(line("N3", "陈三", 903), line("N3", "陈四", 904))
    refused = await web.post("/app/employees/import", data={"_csrf": csrf, "_request_id": "imp-2"},
                             files={"file": ("员工.csv", bad, "text/csv")})
    assert "一行也没有导入" in refused.text and "第 3 行：与第 2 行重复" in refused.text, refused.text[:2000]

    done = await web.post("/app/employees/import", data={"_csrf": csrf, "_request_id": "imp-3"},
                          files={"file": ("员工.csv", good, "text/csv")})
    assert "已导入 2 名员工。" in done.text, done.text[:2000]
    finance = await as_person(web, "fin.zhao", "finance")
    r = await web.post("/app/employees/import", data={"_csrf": finance, "_request_id": "imp-4"},
                       files={"file": ("员工.csv", good, "text/csv")})
    nav = re.search(r"<nav.*?</nav>", r.text, re.DOTALL).group(0)
    assert 'href="/app/employees/import"' not in nav  # not in her navigation, and the API refuses her
    assert "一行也没有导入" not in r.text and "已导入" not in r.text and "您的角色（finance）不能办理此操作" in r.text


async def test_an_hr_manager_imports_the_organisation_on_its_own_page(web) -> None:
    from tests.platform.test_unit_import import TREE, csv_file

    csrf = await as_person(web, "mgr.wang", "hr_manager")
    page = await web.get("/app/org-units/import")
    assert page.status_code == 200 and "<h1>导入组织架构</h1>" in page.text and 'href="/app/org-units/import"' in page.text
    template = await web.get("/app/org-units/import/template.csv")
    assert template.status_code == 200 and template.content.startswith("\ufeff单位编码".encode())
    bad = csv_file("A,甲部,部门,B,,", "B,乙部,部门,A,,")
    refused = await web.post("/app/org-units/import", data={"_csrf": csrf, "_request_id": "org-1"},
                             files={"file": ("组织.csv", bad, "text/csv")})
    assert "一行也没有导入" in refused.text and "第 2 行：上级单位成环：A → B → A" in refused.text, refused.text[:2000]
    done = await web.post("/app/org-units/import", data={"_csrf": csrf, "_request_id": "org-2"},
                          files={"file": ("组织.csv", csv_file(*TREE), "text/csv")})
    assert "已导入 4 个组织单位。" in done.text, done.text[:2000]
    assert (await web.get("/app/payroll/import")).status_code == 404  # only the imports there are


async def test_a_manager_delegates_on_a_page_and_takes_it_back(web) -> None:
    csrf = await as_person(web, "mgr.wang", "hr_manager")
    page = await web.get("/app/delegations")
    assert page.status_code == 200 and "授权同事代办" in page.text and "没有授权。" in page.text
    until = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    r = await web.post("/app/delegations", data={"_csrf": csrf, "_request_id": "dlg-1", "delegate": "mgr.wang",
                                                 "until": until, "reason": "年假"})
    assert "不能授权给自己" in r.text  # the API's refusal, in words
    r = await web.post("/app/delegations", data={"_csrf": csrf, "_request_id": "dlg-2", "delegate": "director.chen",
                                                 "until": until, "processes": ["si_change"], "reason": "年假"})
    assert r.status_code == 200 and "生效中" in r.text and "director.chen" in r.text, r.text[:2000]
    delegation_id = re.search(r'action="/app/delegations/(\d+)/revoke"', r.text).group(1)
    r = await web.post(f"/app/delegations/{delegation_id}/revoke", data={"_csrf": csrf, "_request_id": "dlg-3"})
    assert r.status_code == 200 and "已收回" in r.text


async def test_the_staff_page_places_a_member_in_a_unit(web, site, auth) -> None:
    """The page's form replaces a member whole: it carries her unit, so saving her again never
    widens what she sees to the whole company."""
    csrf = await as_person(web, "ops.wu", "admin")
    form = {"_csrf": csrf, "user_id": "hr.sh", "display_name": "沪分人事", "role": "hr_specialist", "level": "1"}
    refused = await web.post("/app/staff", data=form | {"_request_id": "st-1", "unit_code": "NOPE"})
    assert "没有组织单位 NOPE" in refused.text, refused.text[:2000]
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.put("/org-units/SH", headers=auth(Role.ADMIN, "ops.wu"),
                          json={"name": "上海分公司", "kind": "entity", "si_city": "Shanghai"})
        assert r.status_code == 200, r.text
        saved = await web.post("/app/staff", data=form | {"_request_id": "st-2", "unit_code": "SH"})
        assert saved.status_code == 200
        listed = {m["user_id"]: m for m in (await api.get("/staff", headers=auth(Role.ADMIN, "ops.wu"))).json()}
    assert listed["hr.sh"]["unit_code"] == "SH"
    assert "全公司" in saved.text  # the others work for everyone
