"""Feishu sign-in (OAuth 2.0 with PKCE against the simulator, the login looked up in the
directory) and the Feishu address book as the HR master, read page by page."""

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
from tests.simulators.feishu import SimulatedFeishu

BASE = "http://hrflow.test"


@pytest.fixture(scope="module")
def feishu() -> Iterator[tuple[SimulatedFeishu, str]]:
    sim = SimulatedFeishu(members={"hr.li": "李娜", "E1001": "王芳"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def feishu_settings(settings, feishu):
    sim, url = feishu
    sim.outage = False
    return settings.model_copy(update={"feishu_app_id": sim.app_id, "feishu_app_secret": SecretStr(sim.app_secret),
                                       "feishu_api_base": url, "feishu_accounts_base": url})


@pytest.fixture
async def web(feishu_settings, engine, session_factory, temporal_env, codec) -> AsyncIterator[httpx.AsyncClient]:
    add_employee(session_factory, "E1001", name="王芳")
    with session_factory.begin() as s:
        s.add(StaffMember(user_id="hr.li", display_name="李娜", role="hr_specialist", level=1))
    app = create_app(feishu_settings, engine=engine, temporal=temporal_env.client, codec=codec)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client):
        yield client


async def _through_feishu(web: httpx.AsyncClient, user_id: str) -> tuple[httpx.Response, str]:
    leave = await web.get("/app/sign-in/feishu")
    assert leave.status_code == 303
    query = parse_qs(urlsplit(leave.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(leave.headers["location"])
        assert "飞书授权登录" in page.text
        fields = {k: v[0] for k, v in query.items() if k in ("redirect_uri", "state", "code_challenge",
                                                             "code_challenge_method")}
        back = await browser.post(urljoin(leave.headers["location"], "/open-apis/authen/v1/confirm"),
                                  data=fields | {"user_id": user_id})
    location = back.headers["location"]
    return await web.get(location.removeprefix(BASE)), location


async def test_feishu_sign_in_with_pkce_as_the_directory_knows_her(web) -> None:
    answer, _ = await _through_feishu(web, "hr.li")
    assert answer.status_code == 303 and "hrflow_session" in web.cookies
    assert "<strong>hr.li</strong>（人事专员）" in (await web.get("/app", follow_redirects=True)).text
    web.cookies.clear()
    visitor, _ = await _through_feishu(web, "stranger")  # not a member: user_info has no user_id
    assert visitor.status_code == 403 and "不是本企业成员" in visitor.text and "hrflow_session" not in web.cookies


async def test_a_spent_feishu_code_signs_nobody_in(web) -> None:
    leave = await web.get("/app/sign-in/feishu")
    kept = web.cookies["hrflow_sign_in"]
    web.cookies.clear()
    web.cookies.set("hrflow_sign_in", kept, path="/app/sign-in")
    query = parse_qs(urlsplit(leave.headers["location"]).query)
    async with httpx.AsyncClient(timeout=10) as browser:
        back = await browser.post(urljoin(leave.headers["location"], "/open-apis/authen/v1/confirm"), data={
            "redirect_uri": query["redirect_uri"][0], "state": query["state"][0],
            "code_challenge": query["code_challenge"][0], "code_challenge_method": "S256", "user_id": "E1001"})
    location = back.headers["location"].removeprefix(BASE)
    assert (await web.get(location)).status_code == 303
    web.cookies.clear()
    web.cookies.set("hrflow_sign_in", kept, path="/app/sign-in")
    again = await web.get(location)
    assert again.status_code == 403 and "hrflow_session" not in web.cookies


@pytest.fixture
def settings(settings, feishu):
    """The Feishu address book as the HR master, for the sync test (sign-in tests add the app too)."""
    sim, url = feishu
    return settings.model_copy(update={"feishu_app_id": sim.app_id, "feishu_app_secret": SecretStr(sim.app_secret),
                                       "feishu_api_base": url, "feishu_contacts": True})


async def test_the_feishu_address_book_read_page_by_page(api, auth, session_factory, feishu) -> None:
    sim, _ = feishu
    sim.departments = [{"open_department_id": "od-sales", "name": "华东销售部"}]
    sim.directory = [{"user_id": f"F{n:03}", "name": f"员工F{n:03}", "department_ids": ["od-sales"],
                      "job_title": "销售顾问", "status": {"is_resigned": False}} for n in range(1, 61)]
    sim.directory[0] |= {"job_title": "销售经理", "leader_user_id": "F002"}
    sim.directory[1]["status"] = {"is_resigned": True}
    for n in (1, 2):
        add_employee(session_factory, f"F{n:03}", resident_id_number=resident_id("19900101", n), name=f"员工F{n:03}")
    r = await api.post("/employees/sync", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["records"] == 60 and report["registered"] == []  # two pages of 50
    assert {(c["employee_id"], c["field"], c["after"]) for c in report["changes"]} == {
        ("F001", "department", "华东销售部"), ("F001", "position", "销售经理"), ("F001", "manager_id", "F002")}
    # F002 has resigned: a note for HR, not a change
    notes = {n["employee_id"]: n["message"] for n in report["notes"]}
    assert "离职" in notes["F002"] and sum("未匹配" in m for m in notes.values()) == 58
    with session_factory() as s:
        assert (s.get(Employee, "F001").position, s.get(Employee, "F001").manager_id) == ("销售经理", "F002")
