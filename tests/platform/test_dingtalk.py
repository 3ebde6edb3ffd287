"""DingTalk sign-in (OAuth 2.0, its authCode, the unionId turned into her userid, looked up in the
directory) and the DingTalk address book as the HR master, department by department, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from db.models import Employee, StaffMember
from domain.roles import Role
from tests.live_server import serving_in_a_thread
from tests.platform.test_employee_import import resident_id
from tests.processes.support import add_employee
from tests.simulators.dingtalk import SimulatedDingTalk

BASE = "http://hrflow.test"


@pytest.fixture(scope="module")
def dingtalk() -> Iterator[tuple[SimulatedDingTalk, str]]:
    sim = SimulatedDingTalk(members={"hr.li": "李娜"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def settings(settings, dingtalk):
    sim, url = dingtalk
    sim.outage = False
    return settings.model_copy(update={
        "dingtalk_app_key": sim.app_key, "dingtalk_app_secret": SecretStr(sim.app_secret),
        "dingtalk_agent_id": sim.agent_id, "dingtalk_contacts": True, "dingtalk_oapi_base": url,
        "dingtalk_api_base": url, "dingtalk_login_base": url})


@pytest.fixture
async def web(settings, engine, session_factory, temporal_env, codec) -> AsyncIterator[httpx.AsyncClient]:
    with session_factory.begin() as s:
        s.add(StaffMember(user_id="hr.li", display_name="李娜", role="hr_specialist", level=1))
    app = create_app(settings, engine=engine, temporal=temporal_env.client, codec=codec)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client):
        yield client


async def _through_dingtalk(web: httpx.AsyncClient, userid: str) -> tuple[httpx.Response, str]:
    leave = await web.get("/app/sign-in/dingtalk")
    assert leave.status_code == 303
    query = parse_qs(urlsplit(leave.headers["location"]).query)
    async with httpx.AsyncClient(timeout=10) as browser:
        assert "钉钉扫码登录" in (await browser.get(leave.headers["location"])).text
        back = await browser.post(urljoin(leave.headers["location"], "/oauth2/confirm"), data={
            "redirect_uri": query["redirect_uri"][0], "state": query["state"][0], "userid": userid})
    location = back.headers["location"]
    assert "authCode=" in location
    return await web.get(location.removeprefix(BASE)), location


async def test_dingtalk_sign_in_as_the_directory_knows_her(web) -> None:
    answer, _ = await _through_dingtalk(web, "hr.li")
    assert answer.status_code == 303 and "hrflow_session" in web.cookies
    assert "<strong>hr.li</strong>（人事专员）" in (await web.get("/app", follow_redirects=True)).text
    web.cookies.clear()
    outsider, _ = await _through_dingtalk(web, "visitor")  # DingTalk knows her; the corporation does not (60121)
    assert outsider.status_code == 403 and "不是本企业成员" in outsider.text and "hrflow_session" not in web.cookies


async def test_the_dingtalk_address_book_department_by_department(api, auth, session_factory, dingtalk) -> None:
    sim, _ = dingtalk
    sim.departments = [{"dept_id": 2, "name": "华东销售部", "parent_id": 1}, {"dept_id": 3, "name": "上海组", "parent_id": 2}]
    sim.directory = [{"userid": f"D{n:03}", "name": f"员工D{n:03}", "dept_id_list": [3], "title": "销售顾问"}
                     for n in range(1, 131)]  # two pages of the sub-department's members
    sim.directory[0] |= {"title": "销售经理", "org_email": "d001@corp.example"}
    add_employee(session_factory, "D001", resident_id_number=resident_id("19900101", 1), name="员工D001")
    r = await api.post("/employees/sync", params={"dry_run": "true"}, headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["source"] == "钉钉通讯录 (DingTalk contacts)" and report["records"] == 130
    assert {(c["field"], c["after"]) for c in report["changes"] if c["employee_id"] == "D001"} == {
        ("department", "上海组"), ("position", "销售经理"), ("email", "d001@corp.example")}
    assert sum("未匹配" in n["message"] for n in report["notes"]) == 129
    sim.outage = True
    r = await api.post("/employees/sync", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 503
    with session_factory() as s:
        assert s.get(Employee, "D001").position == "Adviser"  # a dry run, then an outage: nothing changed
