"""An approval that a route assigns to people, through the pages: her line manager, whose role is
employee, is offered the decision and its task actions because the case's current step names her,
and the page shows the route; HR sends it back to her, and the subject is offered nothing."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import expect

from domain.roles import Role
from tests.processes import test_si_change as si_change
from tests.processes.support import add_employee, eventually
from tests.web.conftest import EMPLOYEE, sign_in
from tests.web.line_manager_cases import LINE, ROUTE  # LINE: the login of her line manager E-MGR, an employee

ACTIONS = ("approve", "reject", "transfer", "add-signer", "return")


async def _her_manager_signs_first(site: str, auth, session_factory) -> str:
    add_employee(session_factory, "E-MGR", resident_id_number="110105198506151236", name="周敏")
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.put(f"/staff/{LINE}", headers=auth(Role.ADMIN, "ops.wu"),
                          json={"display_name": "周敏", "role": "employee", "employee_id": "E-MGR"})
        assert r.status_code == 200, r.text
        hr = auth(Role.HR_MANAGER, "mgr.wang")
        r = await api.put(f"/employees/{EMPLOYEE}/manager", headers=hr,
                          json={"manager_id": "E-MGR", "effective_from": "2021-03-01"})
        assert r.status_code == 200, r.text
        r = await api.post("/approval-routes/si_change.approve", json=ROUTE, headers=hr)
        assert r.status_code == 201, r.text
        r = await api.post("/si-changes", json=si_change.ENROLL | {"employee_id": EMPLOYEE},
                           headers=auth(Role.HR_SPECIALIST, "hr.li"))
        assert r.status_code == 201, r.text
        workflow_id: str = r.json()["workflow_id"]

        async def at_step(n: int) -> bool:
            v = (await api.get(f"/si-changes/{workflow_id}", headers=hr)).json()
            return bool(v.get("approval") and v["approval"]["current"] == n)

        await eventually(lambda: at_step(0), what="the route's first step open")
    return workflow_id


async def test_a_line_manager_signs_on_the_page_and_hr_sends_it_back_to_her(site, open_page, auth,
                                                                             session_factory) -> None:
    workflow_id = await _her_manager_signs_first(site, auth, session_factory)
    page, watch = await open_page()
    await sign_in(page, site, LINE)
    await page.get_by_role("link", name="待办").click()
    await page.get_by_role("link", name=workflow_id).click()
    route = page.locator("ol.route")
    await expect(route.locator("li.current")).to_contain_text("直属上级审批")
    await expect(route.locator("li.current")).to_contain_text("此步骤待您签批")
    for slug in ACTIONS:  # her role offers none of these: the route does
        await expect(page.locator(f"a[href$='/do/{slug}']")).to_have_count(1)
    await page.locator("a[href$='/do/approve']").click()
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(route.locator("li.current")).to_contain_text("人事经理复核")
    await expect(route.locator("li").first).to_contain_text(f"已签：{LINE}")
    await expect(page.locator("a[href$='/do/approve']")).to_have_count(0)  # one person signs once
    watch.assert_clean()

    hr, hr_watch = await open_page()
    await sign_in(hr, site, "mgr.wang")
    await hr.goto(f"{site}/app/cases/{workflow_id}")
    await hr.locator("a[href$='/do/return']").click()
    await hr.get_by_label(re.compile(r"^办理步骤")).fill("1")
    await hr.get_by_label(re.compile(r"^原因")).fill("请直属上级核对生效月份")
    await hr.get_by_role("button", name="提交").click()
    await expect(hr.locator(".done")).to_be_visible()
    await expect(hr.locator("ol.route li.current")).to_contain_text("直属上级审批")
    hr_watch.assert_clean()

    await page.reload()
    await expect(route.locator("li.current")).to_contain_text("此步骤待您签批")  # hers again
    await expect(page.locator("a[href$='/do/approve']")).to_have_count(1)
    watch.assert_clean()


async def test_the_subject_is_offered_nothing_and_cannot_reach_the_form(site, open_page, auth,
                                                                        session_factory) -> None:
    workflow_id = await _her_manager_signs_first(site, auth, session_factory)
    page, watch = await open_page()
    await sign_in(page, site, EMPLOYEE)
    await page.goto(f"{site}/app/cases/{workflow_id}")
    await expect(page.locator("ol.route li.current")).to_contain_text("直属上级审批")
    await expect(page.locator("ol.route")).not_to_contain_text("此步骤待您签批")
    for slug in ACTIONS:
        await expect(page.locator(f"a[href$='/do/{slug}']")).to_have_count(0)
    watch.assert_clean()
    for slug in ACTIONS:  # typed into the address bar: no form
        answer = await page.request.get(f"{site}/app/cases/{workflow_id}/do/{slug}")
        assert answer.status == 404, slug


async def test_her_line_manager_gives_a_departures_final_approval_on_the_page(site, open_page, auth, temporal_env,
                                                                               session_factory) -> None:
    from tests.processes import test_offboarding as offboarding
    from tests.processes.support import env_today

    await _her_manager_signs_first(site, auth, session_factory)  # the organisation; its enrollment waits aside
    add_employee(session_factory, offboarding.RECEIVER, resident_id_number="110101199001011237")
    route = ROUTE | {"steps": [{"name": "直属上级确认", "approvers": [{"line_manager": 1}]}]}
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post("/approval-routes/offboarding.final", json=route, headers=auth(Role.HR_MANAGER, "mgr.wang"))
        assert r.status_code == 201, r.text
        wf = (await offboarding.start(api, auth, EMPLOYEE, await env_today(temporal_env)))["workflow_id"]
        await offboarding.wait_view(api, auth, wf, lambda v: v["risk"])
        await offboarding.sign(api, auth, wf, Role.EMPLOYEE, offboarding.RECEIVER, "handover", "clients", "handed_over")
        r = await offboarding.sign(api, auth, wf, Role.IT, offboarding.IT, "it", "accounts", "revoked")
        assert r.json()["approval"]["current"] == 0, r.text
    hr, hr_watch = await open_page()
    await sign_in(hr, site, "mgr.wang")
    await hr.goto(f"{site}/app/cases/{wf}")
    await expect(hr.locator("ol.route li.current")).to_contain_text("直属上级确认")
    await expect(hr.locator("form.sign-off")).to_have_count(0)  # the route names her manager, not HR
    hr_watch.assert_clean()

    page, watch = await open_page()
    await sign_in(page, site, LINE)
    await page.goto(f"{site}/app/cases/{wf}")
    form = page.locator("form.sign-off")
    await expect(form).to_have_count(1)
    await form.get_by_role("button", name="签字确认").click()
    await expect(page.locator(".done")).to_be_visible()
    async with httpx.AsyncClient(base_url=site) as api:
        v = (await api.get(f"/offboardings/{wf}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
    assert v["gates"]["hr_final"] == "done" and v["approval"]["steps"][0]["signed_by"] == [LINE]
    watch.assert_clean()
