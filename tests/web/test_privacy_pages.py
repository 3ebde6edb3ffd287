"""Personal data in the browser (issue 21): compliance reads the access log on its page, filtered
by employee; an HR manager opens an employee from her case (the case is the read's purpose) and
downloads the export of her data."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import httpx
from playwright.async_api import expect
from sqlalchemy import select

from db.models import PersonalDataAccess
from domain.roles import Role
from tests.processes.support import add_employee
from tests.web.conftest import EMPLOYEE, sign_in
from tests.web.test_journeys import assert_every_control_labelled


async def test_compliance_filters_the_access_log_by_employee(site, open_page, auth, session_factory) -> None:
    add_employee(session_factory, "E2002", resident_id_number="360426199101010071", name="赵雷")
    async with httpx.AsyncClient(base_url=site) as api:
        for emp in (EMPLOYEE, "E2002"):
            r = await api.get(f"/employees/{emp}", headers=auth(Role.HR_SPECIALIST, "hr.li"))
            assert r.status_code == 200 and not r.json()["masked"]
    page, watch = await open_page()
    await sign_in(page, site, "comp.sun")
    await page.get_by_role("link", name="访问记录").click()
    await expect(page.get_by_role("heading", name="个人信息访问记录")).to_be_visible()
    await expect(page.locator("table.access-log tbody tr")).to_have_count(4)
    await assert_every_control_labelled(page)
    await page.get_by_label("员工", exact=True).fill(EMPLOYEE)
    await page.get_by_role("button", name="筛选").click()
    rows = page.locator("table.access-log tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("hr.li")
    await expect(rows.first).to_contain_text("人事专员")
    await expect(page.locator("table.access-log")).to_contain_text("身份证号")
    await expect(page.locator("table.access-log")).not_to_contain_text("E2002")
    await expect(page.get_by_label("员工", exact=True)).to_have_value(EMPLOYEE)  # the filter is kept
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="下载 CSV").click()
    lines = Path(await (await waiting.value).path()).read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("时间（北京时间）") and len(lines) == 3 and all(EMPLOYEE in line for line in lines[1:])
    # A date the API cannot read is said on the page, naming the field (the page itself answers 200).
    await page.goto(site + "/app/privacy/access-log?since=yesterday")
    await expect(page.locator(".alert")).to_contain_text("起始时间")
    watch.assert_clean()


async def test_an_hr_manager_exports_an_employees_data_from_her_case(site, open_page, auth, session_factory) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post("/si-changes", headers=auth(Role.HR_SPECIALIST, "hr.li"), json={
            "employee_id": EMPLOYEE, "kind": "enrollment", "base": "10000.00", "effective_month": "2026-11",
            "reason": "new hire"})
        assert r.status_code == 201, r.text
        case = r.json()["workflow_id"]
    page, watch = await open_page()
    await sign_in(page, site, "mgr.wang")
    await page.goto(f"{site}/app/cases/{case}")
    await page.get_by_role("link", name=EMPLOYEE, exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/app/employees/{EMPLOYEE}\?purpose="))
    await expect(page.locator(".id-number")).to_have_text("11010519491231002X")  # HR sees it in full
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="导出个人信息").click()
    download = await waiting.value
    assert re.fullmatch(rf"个人信息-{EMPLOYEE}-\d{{8}}T\d{{6}}Z\.zip", download.suggested_filename)
    bundle = zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes()))
    assert {"index.html", "data.json"} <= set(bundle.namelist())
    data = json.loads(bundle.read("data.json"))
    assert data["employee"]["resident_id_number"] == "11010519491231002X"
    assert case in {c["workflow_id"] for c in data["tables"]["cases"]}
    with session_factory() as s:
        logged = [(r.actor, r.what, r.purpose) for r in s.scalars(select(PersonalDataAccess)
                                                                   .where(PersonalDataAccess.actor == "mgr.wang")
                                                                   .order_by(PersonalDataAccess.id))]
    assert logged == [("mgr.wang", "resident_id_number", case), ("mgr.wang", "name", case),
                      ("mgr.wang", "export", None)]
    watch.assert_clean()


async def test_she_downloads_her_own_data_from_her_page(site, open_page) -> None:
    page, watch = await open_page(width=390)
    await sign_in(page, site, EMPLOYEE)
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="导出个人信息").click()
    bundle = zipfile.ZipFile(io.BytesIO(Path(await (await waiting.value).path()).read_bytes()))
    assert json.loads(bundle.read("data.json"))["employee"]["employee_id"] == EMPLOYEE
    watch.assert_clean()
