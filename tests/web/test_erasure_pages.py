"""The erasure of personal data (PIPL art. 47) in the browser: compliance asks for a leaver's
erasure, a second compliance officer reads the legal check (the verdict, its grounds, the retention
period and its legal source) and approves, and the case shows what the erasure did; the asker is
not offered the decision and is refused in words if she posts it; an employee who has left asks
on her own page and sees her request held until the retention period ends."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import update

from db.models import Employee, StaffMember
from db.person_keys import PersonKeyring
from db.session import make_session_factory
from domain.months import add_months
from domain.roles import Role
from hrflow.codec import EncryptionCodec
from tests.processes.support import add_employee
from tests.web.conftest import EMPLOYEE, as_person, sign_in
from tests.web.test_journeys import assert_every_control_labelled

LEAVER = "E3003"
CHECKER = "comp.wu"  # the second compliance officer (comp.sun, of the web fixtures, asks)


@pytest.fixture
def keyring(keys_engine, codec_keys) -> PersonKeyring:
    return PersonKeyring(make_session_factory(keys_engine), "test-1",
                         {k: base64.b64decode(v) for k, v in codec_keys.items()})


@pytest.fixture
def codec(codec_keys, keyring) -> EncryptionCodec:
    """The site's and the worker's codec: the master key, and the employees' own keys in this test's
    database (``tests/processes/erasure/conftest.py``); the web fixtures' Temporal takes it."""
    return EncryptionCodec("test-1", {k: base64.b64decode(v) for k, v in codec_keys.items()}, keyring=keyring)


def _departed(session_factory, employee_id: str, on: dt.date) -> None:
    with session_factory.begin() as s:
        s.execute(update(Employee).where(Employee.employee_id == employee_id)
                  .values(employment_status="departed", leaving_on=on))


async def _reload_until(page: Page, words: str, *, seconds: float = 30) -> None:
    """Reload the page until it says ``words`` (the workflow moves on its own between two reads)."""
    for _ in range(int(seconds * 2)):
        if words in await page.locator("main").inner_text():
            return
        await asyncio.sleep(0.5)
        await page.reload(wait_until="load")
    await expect(page.locator("main")).to_contain_text(words)


async def test_compliance_asks_a_second_officer_approves_and_she_is_erased(
        site, open_page, web, session_factory, temporal_env) -> None:
    add_employee(session_factory, LEAVER, name="张敏", resident_id_number="110105198506151236")
    with session_factory.begin() as s:
        s.add(StaffMember(user_id=CHECKER, display_name="吴倩", role="compliance", level=1, email="comp.wu@example.cn"))
    _departed(session_factory, LEAVER, dt.date.today() - dt.timedelta(days=800))  # more than two years ago

    page, watch = await open_page()
    await sign_in(page, site, "comp.sun")
    await page.get_by_role("navigation").get_by_role("link", name="个人信息删除").click()
    await expect(page.get_by_role("heading", name="个人信息删除", exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="申请删除员工的个人信息")).to_be_visible()
    await assert_every_control_labelled(page)
    await page.get_by_label("员工编号").fill("NOBODY")
    await page.get_by_label("原因").fill("离职满两年，保存期审查")
    await page.get_by_role("button", name="提出删除请求").click()
    await expect(page.locator(".alert")).to_contain_text("没有员工 NOBODY")  # the API's refusal, in words
    await expect(page.get_by_label("原因")).to_have_value("离职满两年，保存期审查")  # the form kept as posted
    await page.get_by_label("员工编号").fill(LEAVER)
    await page.get_by_role("button", name="提出删除请求").click()
    await expect(page).to_have_url(re.compile(rf"/app/erasures/erasure-{LEAVER}-1\?done=ask$"))
    wf = f"erasure-{LEAVER}-1"
    main = page.locator("main")
    await expect(main.locator(".stage")).to_have_text("待合规审批")
    await expect(main.locator(".verdict")).to_contain_text("保存期已满")
    await expect(main.locator("ul.reasons")).to_contain_text("法定保存期已满")
    await expect(main.locator("table.retention")).to_contain_text("第五十条")
    await expect(main.locator("table.retention")).to_contain_text("24 个月")
    await expect(main).to_contain_text("comp.sun（保存期审查）")
    # The one who asked is not offered the decision, only the withdrawal.
    await expect(page.get_by_role("button", name="批准删除")).to_have_count(0)
    await expect(page.get_by_role("button", name="撤回")).to_be_visible()
    await page.goto(site + "/app/erasures")
    row = page.locator("table.erasures tbody tr", has_text=wf)
    await expect(row).to_contain_text(LEAVER)
    await expect(row).to_contain_text("待合规审批")
    await expect(row).to_contain_text("comp.sun")

    # Posted anyway (a forged form of hers), the API refuses and the page says why, in her language.
    csrf = await as_person(web, "comp.sun", "compliance")
    refused = await web.post(f"/app/erasures/{wf}/decide", data={"_csrf": csrf, "_request_id": "self1",
                                                                 "approve": "true", "reason": "自己批"})
    assert refused.status_code == 200 and "提出删除请求的人不能审批自己的请求" in refused.text, refused.text[-2000:]
    assert "the person who asked may not approve" not in refused.text

    checker, checker_watch = await open_page()
    await sign_in(checker, site, CHECKER)
    await checker.get_by_role("navigation").get_by_role("link", name="个人信息删除").click()
    await checker.get_by_role("link", name=wf).click()
    await expect(checker.locator(".verdict")).to_contain_text("保存期已满")
    await assert_every_control_labelled(checker)
    await expect(checker.get_by_role("button", name="撤回")).to_have_count(0)  # she did not ask
    await checker.get_by_label("审批意见").fill("核对无误，同意删除")
    await checker.get_by_role("button", name="批准删除").click()
    await expect(checker.locator(".done")).to_be_visible()
    await expect(checker.get_by_role("button", name="批准删除")).to_have_count(0)  # decided once
    await _reload_until(checker, "已销毁的个人密钥")  # her keys destroyed; the caches still hold them
    await expect(checker.locator("main")).to_contain_text("删除中")
    await expect(checker.locator("main")).to_contain_text("300 秒")

    await temporal_env.sleep(dt.timedelta(seconds=301))  # HRFLOW_PERSON_KEY_CACHE_SECONDS, 300 by default
    await _reload_until(checker, "她的个人信息已删除")
    main = checker.locator("main")
    await expect(main.locator(".stage")).to_have_text("已删除")
    await expect(main).to_contain_text("已批准")
    await expect(main).to_contain_text(CHECKER)
    await expect(main).to_contain_text("核对无误，同意删除")
    await expect(main).to_contain_text("已销毁的个人密钥")
    await expect(main).to_contain_text("已清除的上传材料")
    await expect(main).to_contain_text("姓名、居民身份证号码、电子邮箱、手机号码")
    await expect(checker.get_by_role("button", name="批准删除")).to_have_count(0)
    with session_factory() as s:
        assert s.get(Employee, LEAVER).name == "（已删除）"

    # In English, the same page in the reader's language.
    await checker.get_by_role("link", name="English").click()
    await expect(checker.locator("main")).to_contain_text("Erasure of personal data")
    await expect(checker.locator(".stage")).to_have_text("erased")
    watch.assert_clean()
    checker_watch.assert_clean()


async def test_an_employee_who_has_left_asks_on_her_page_and_sees_it_held(
        site, open_page, auth, session_factory) -> None:
    page, watch = await open_page()
    await sign_in(page, site, EMPLOYEE)  # signed in on her last day; her session outlives it
    await expect(page.get_by_role("heading", name="我的事务")).to_be_visible()
    await expect(page.get_by_role("heading", name="申请删除我的个人信息")).to_have_count(0)  # still employed

    left = dt.date.today() - dt.timedelta(days=100)
    _departed(session_factory, EMPLOYEE, left)
    await page.reload()
    await expect(page.get_by_role("heading", name="申请删除我的个人信息")).to_be_visible()
    await assert_every_control_labelled(page)
    await page.get_by_label("原因").fill("本人已离职，申请删除个人信息")
    await page.get_by_role("button", name="提交删除申请").click()
    await expect(page.locator(".done")).to_contain_text("删除申请已提交")
    held_until = add_months(left, 24).isoformat()
    card = page.locator("article.card", has_text="个人信息删除")
    await expect(card).to_contain_text("待合规审批")
    await expect(card).to_contain_text("法定保存期未满")
    await expect(card.locator(".held-until")).to_have_text(held_until)
    await expect(card).to_contain_text(f"至 {held_until} 止")
    await expect(page.get_by_role("button", name="提交删除申请")).to_have_count(0)  # one request at a time

    wf = f"erasure-{EMPLOYEE}-1"
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post(f"/erasures/{wf}/decide", json={"approve": True, "reason": "核对无误"},
                           headers=auth(Role.COMPLIANCE, "comp.sun"))
        assert r.status_code == 200, r.text
    await page.reload()
    await expect(card).to_contain_text("保存至期满")
    await card.get_by_role("link").click()
    await expect(page).to_have_url(re.compile(rf"/app/erasures/{wf}$"))
    main = page.locator("main")
    await expect(main.locator(".stage")).to_have_text("保存至期满")
    await expect(main.locator(".held-until")).to_have_text(held_until)
    await expect(main).to_contain_text("劳动合同法")
    await expect(main).to_contain_text("本人申请")
    await expect(page.get_by_role("button", name="批准删除")).to_have_count(0)
    await page.get_by_role("button", name="撤回").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(main.locator(".stage")).to_have_text("已撤回")
    await expect(page.get_by_role("button", name="撤回")).to_have_count(0)
    watch.assert_clean()
